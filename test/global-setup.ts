// One PostgreSQL for the whole run: the machine's (DATABASE_URL) or an embedded one, with
// a migrated template database that each test file clones (test/db.ts).
import os from 'node:os';
import path from 'node:path';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import type { TestProject } from 'vitest/node';
import { createSql } from '../src/core/db/client.js';
import { migrate } from '../src/app/db/migrate.js';
import { startEmbeddedPostgres } from '../src/app/db/embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres:// URL of a database on the test server from which CREATE DATABASE works. */
    adminUrl: string;
    /** Name of the migrated template database. */
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let adminUrl = process.env.DATABASE_URL;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let tmp: string | undefined;
  if (!adminUrl) {
    tmp = await mkdtemp(path.join(os.tmpdir(), 'switchyard-test-'));
    await chmod(tmp, 0o755); // the embedded server runs as the postgres user when we are root
    const db = await startEmbeddedPostgres(path.join(tmp, 'pg'), { persistent: false });
    adminUrl = db.adminUrl;
    stopEmbedded = db.stop;
  }
  const template = `sy_tpl_${process.pid}_${Date.now().toString(36)}`;
  const admin = createSql(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${template}`);
  const templateUrl = withDatabase(adminUrl, template);
  const tsql = createSql(templateUrl, { max: 1 });
  try {
    await migrate(tsql, templateUrl);
  } finally {
    await tsql.end();
  }
  project.provide('adminUrl', adminUrl);
  project.provide('templateDatabase', template);

  return async () => {
    const leftovers = await admin<{ datname: string }[]>`
      select datname from pg_database where datname like ${`sy_t_${process.pid}_%`} or datname = ${template}`;
    for (const { datname } of leftovers) {
      await admin.unsafe(`drop database if exists ${datname} with (force)`);
    }
    await admin.end();
    if (stopEmbedded) await stopEmbedded();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  };
}

/** The same server URL pointing at another database. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}
