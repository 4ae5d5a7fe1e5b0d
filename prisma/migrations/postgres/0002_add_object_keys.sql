-- CreateTable
CREATE TABLE "ObjectKey" (
    "objectType" TEXT NOT NULL,
    "objectId" TEXT NOT NULL,
    "keyVersion" INTEGER NOT NULL,
    "recipientId" TEXT NOT NULL,
    "wrapped" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ObjectKey_pkey" PRIMARY KEY ("objectType","objectId","keyVersion","recipientId")
);

-- CreateIndex
CREATE INDEX "ObjectKey_recipientId_objectType_objectId_idx" ON "ObjectKey"("recipientId", "objectType", "objectId");

-- AddForeignKey
ALTER TABLE "ObjectKey" ADD CONSTRAINT "ObjectKey_recipientId_fkey" FOREIGN KEY ("recipientId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
