// A fresh, migrated database per test file: CREATE DATABASE … TEMPLATE <template>.
import { inject } from 'vitest';
import { createSql, type Sql } from '../src/core/db/client.js';
import { withDatabase } from './global-setup.js';

/** A database cloned from the migrated template, with its URL and a pool on it. */
export interface TestDatabase {
  url: string;
  sql: Sql;
  /** Closes the pool and drops the database. */
  drop(): Promise<void>;
}

let counter = 0;

/** Clones the template into a new database for this test file. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const template = inject('templateDatabase');
  const name = `sy_t_${process.ppid}_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const admin = createSql(adminUrl, { max: 1 });
  try {
    await admin.unsafe(`create database ${name} template ${template}`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(adminUrl, name);
  const sql = createSql(url, { max: 20 });
  return {
    url,
    sql,
    async drop() {
      await sql.end({ timeout: 5 });
      const a = createSql(adminUrl, { max: 1 });
      try {
        await a.unsafe(`drop database if exists ${name} with (force)`);
      } finally {
        await a.end();
      }
    },
  };
}
