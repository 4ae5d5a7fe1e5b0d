-- CreateTable
CREATE TABLE "Device" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "userId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "signingKey" BLOB NOT NULL,
    "encryptionKey" BLOB NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "approvedAt" DATETIME,
    "revokedAt" DATETIME,
    "lastSeenAt" DATETIME,
    "expiresAt" DATETIME,
    CONSTRAINT "Device_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "KeyBundle" (
    "userId" TEXT NOT NULL PRIMARY KEY,
    "revision" INTEGER NOT NULL,
    "bundle" TEXT NOT NULL,
    "wrappedKey" BLOB NOT NULL,
    "updatedAt" DATETIME NOT NULL,
    CONSTRAINT "KeyBundle_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "Backup" (
    "userId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "authKey" BLOB NOT NULL,
    "encryptionKey" BLOB NOT NULL,
    "algorithm" TEXT NOT NULL,
    "salt" TEXT NOT NULL,
    "memoryKiB" INTEGER NOT NULL,
    "iterations" INTEGER NOT NULL,
    "parallelism" INTEGER NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("userId", "kind"),
    CONSTRAINT "Backup_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- CreateTable
CREATE TABLE "AccountReset" (
    "userId" TEXT NOT NULL PRIMARY KEY,
    "codeHash" BLOB NOT NULL,
    "expiresAt" DATETIME NOT NULL,
    CONSTRAINT "AccountReset_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_UserKey" (
    "userId" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "signingKey" BLOB NOT NULL,
    "signingKeyId" TEXT NOT NULL,
    "encryptionKey" BLOB NOT NULL,
    "signature" BLOB NOT NULL,
    "reset" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("userId", "version"),
    CONSTRAINT "UserKey_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_UserKey" ("createdAt", "encryptionKey", "signature", "signingKey", "signingKeyId", "userId", "version") SELECT "createdAt", "encryptionKey", "signature", "signingKey", "signingKeyId", "userId", "version" FROM "UserKey";
DROP TABLE "UserKey";
ALTER TABLE "new_UserKey" RENAME TO "UserKey";
CREATE INDEX "UserKey_signingKeyId_idx" ON "UserKey"("signingKeyId");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE INDEX "Device_userId_idx" ON "Device"("userId");

-- CreateIndex
CREATE INDEX "AccountReset_expiresAt_idx" ON "AccountReset"("expiresAt");
