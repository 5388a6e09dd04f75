import { describe, expect, it } from 'vitest';
import { withAsyncCommit } from './worker.js';

describe('withAsyncCommit', () => {
  it('adds synchronous_commit=off to the libpq options of a URL, keeping options already there', () => {
    const plain = new URL(withAsyncCommit('postgres://sy:pw@db.internal:5432/switchyard?sslmode=require'));
    expect(plain.searchParams.get('options')).toBe('-c synchronous_commit=off');
    expect(plain.searchParams.get('sslmode')).toBe('require');
    expect(plain.password).toBe('pw');
    const kept = new URL(withAsyncCommit('postgres://sy@db/switchyard?options=-c%20search_path%3Dgw'));
    expect(kept.searchParams.get('options')).toBe('-c search_path=gw -c synchronous_commit=off');
  });

  it('returns a keyword/value connection string unchanged', () => {
    expect(withAsyncCommit('host=/var/run/postgresql dbname=switchyard')).toBe('host=/var/run/postgresql dbname=switchyard');
  });
});
