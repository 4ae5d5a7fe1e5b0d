-- AlterTable
ALTER TABLE "UserKey" ADD COLUMN     "reset" BOOLEAN NOT NULL DEFAULT false;

-- CreateTable
CREATE TABLE "Device" (
    "id" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "signingKey" BYTEA NOT NULL,
    "encryptionKey" BYTEA NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "approvedAt" TIMESTAMP(3),
    "revokedAt" TIMESTAMP(3),
    "lastSeenAt" TIMESTAMP(3),
    "expiresAt" TIMESTAMP(3),

    CONSTRAINT "Device_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "KeyBundle" (
    "userId" TEXT NOT NULL,
    "revision" INTEGER NOT NULL,
    "bundle" TEXT NOT NULL,
    "wrappedKey" BYTEA NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "KeyBundle_pkey" PRIMARY KEY ("userId")
);

-- CreateTable
CREATE TABLE "Backup" (
    "userId" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "authKey" BYTEA NOT NULL,
    "encryptionKey" BYTEA NOT NULL,
    "algorithm" TEXT NOT NULL,
    "salt" TEXT NOT NULL,
    "memoryKiB" INTEGER NOT NULL,
    "iterations" INTEGER NOT NULL,
    "parallelism" INTEGER NOT NULL,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Backup_pkey" PRIMARY KEY ("userId","kind")
);

-- CreateTable
CREATE TABLE "AccountReset" (
    "userId" TEXT NOT NULL,
    "codeHash" BYTEA NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "AccountReset_pkey" PRIMARY KEY ("userId")
);

-- CreateIndex
CREATE INDEX "Device_userId_idx" ON "Device"("userId");

-- CreateIndex
CREATE INDEX "AccountReset_expiresAt_idx" ON "AccountReset"("expiresAt");

-- AddForeignKey
ALTER TABLE "Device" ADD CONSTRAINT "Device_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "KeyBundle" ADD CONSTRAINT "KeyBundle_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Backup" ADD CONSTRAINT "Backup_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "AccountReset" ADD CONSTRAINT "AccountReset_userId_fkey" FOREIGN KEY ("userId") REFERENCES "User"("id") ON DELETE CASCADE ON UPDATE CASCADE;
