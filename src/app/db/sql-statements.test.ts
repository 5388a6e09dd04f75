import { describe, expect, it } from 'vitest';
import { splitStatements, stripComments } from './sql-statements.js';

describe('splitStatements', () => {
  it('splits on semicolons outside quotes, dollar quotes and comments, dropping empty statements', () => {
    const text = [
      '-- a comment; not a statement',
      "set lock_timeout = '5s';",
      "create function f() returns text language sql as $$ select 'a;b'; $$;",
      'create function g() returns int language plpgsql as $body$ begin return 1; end $body$;',
      '/* block; comment */ select "odd;name" from t;',
      "select 'it''s; fine';",
      ';',
    ].join('\n');
    expect(splitStatements(text).map((s) => stripComments(s).trim())).toEqual([
      "set lock_timeout = '5s'",
      "create function f() returns text language sql as $$ select 'a;b'; $$",
      'create function g() returns int language plpgsql as $body$ begin return 1; end $body$',
      'select "odd;name" from t',
      "select 'it''s; fine'",
    ]);
  });

  it('keeps a last statement without a semicolon, and returns nothing for comments alone', () => {
    expect(splitStatements('select 1;\nselect 2')).toEqual(['select 1', 'select 2']);
    expect(splitStatements('-- only\n/* comments */\n')).toEqual([]);
  });
});
