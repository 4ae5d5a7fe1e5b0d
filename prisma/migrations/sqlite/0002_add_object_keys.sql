-- CreateTable
CREATE TABLE "ObjectKey" (
    "objectType" TEXT NOT NULL,
    "objectId" TEXT NOT NULL,
    "keyVersion" INTEGER NOT NULL,
    "recipientId" TEXT NOT NULL,
    "wrapped" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("objectType", "objectId", "keyVersion", "recipientId"),
    CONSTRAINT "ObjectKey_recipientId_fkey" FOREIGN KEY ("recipientId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "ObjectKey_recipientId_objectType_objectId_idx" ON "ObjectKey"("recipientId", "objectType", "objectId");
