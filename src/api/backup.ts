// The operator's backup of the ledger, behind TIPD_ADMIN_TOKEN: a consistent copy taken while tipd
// runs (src/backup/take.ts), always into TIPD_BACKUP_DIR: a request names nothing, so the operator
// API cannot be made to write anywhere else.
import { z } from 'zod';
import { manifestSchema } from '../backup/manifest.ts';
import type { Backups } from '../backup/take.ts';
import type { Api } from './openapi.ts';
import { requireAdmin } from './admin.ts';

export function backupRoutes(api: Api, adminToken: string | undefined, backups: Backups): void {
  api.route(
    {
      method: 'post',
      path: '/v1/admin/backup',
      summary: 'Take a consistent copy of the ledger now, into TIPD_BACKUP_DIR, while tipd runs; answers what it holds and its audit figures',
      auth: 'admin',
      responses: {
        201: '{ name, path, takenAt, tookMs, keys, bytes, sha256, storeFormat, settleCursor, lastTransferId, lastEventSeq, liabilitiesMsat: { supporters, escrow, inFlight, total }, ledger: { systemMsat, sumMsat, balanced } }',
      },
      returns: manifestSchema.extend({ name: z.string(), path: z.string() }),
      errors: ['backup_in_progress', 'backup_failed'],
    },
    requireAdmin(adminToken),
    async (_req, res) => {
      res.status(201).json(await backups.take());
    },
  );
}
