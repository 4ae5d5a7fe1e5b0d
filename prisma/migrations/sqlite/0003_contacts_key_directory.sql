-- CreateTable
CREATE TABLE "UserKey" (
    "userId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "signingKey" BLOB NOT NULL,
    "signingKeyId" TEXT NOT NULL,
    "encryptionKey" BLOB NOT NULL,
    "signature" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("userId", "version"),
    CONSTRAINT "UserKey_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Contact" (
    "userLowId" TEXT NOT NULL,
    "userHighId" TEXT NOT NULL,
    "requesterId" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL,

    PRIMARY KEY ("userLowId", "userHighId"),
    CONSTRAINT "Contact_userLowId_fkey" FOREIGN KEY ("userLowId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "Contact_userHighId_fkey" FOREIGN KEY ("userHighId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateIndex
CREATE INDEX "UserKey_signingKeyId_idx" ON "UserKey"("signingKeyId");

-- CreateIndex
CREATE INDEX "Contact_userHighId_idx" ON "Contact"("userHighId");

-- Data: users registered before the key directory get their current keys as version 1,
-- with no signature (the registration signature was not kept). Clients refuse to verify
-- such a version (docs/sharing.md, "Key directory"); nothing else changes for these users.
INSERT INTO "UserKey" ("userId", "version", "signingKey", "signingKeyId", "encryptionKey", "signature", "createdAt")
SELECT "id", 1, "signingKey", '', "encryptionKey", X'', "createdAt" FROM "User";
