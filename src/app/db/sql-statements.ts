// Splitting a migration file into statements, for files that run outside a transaction.

/**
 * The statements of `text`, in order, without their terminating `;`, comments kept inside them and empty ones
 * dropped. Semicolons inside quotes ('…', "…"), dollar quotes ($$…$$, $tag$…$tag$) and comments (-- …, /* … *\/)
 * do not split.
 * @example
 * splitStatements("set lock_timeout = '5s';\ncreate index concurrently i on t (a);"); // ["set lock_timeout = '5s'", 'create index concurrently i on t (a)']
 */
export function splitStatements(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let i = 0;
  const push = (end: number) => {
    const statement = text.slice(start, end).trim();
    if (stripComments(statement).trim() !== '') out.push(statement);
  };
  while (i < text.length) {
    const c = text[i]!;
    if (c === '-' && text[i + 1] === '-') {
      const eol = text.indexOf('\n', i);
      i = eol < 0 ? text.length : eol + 1;
    } else if (c === '/' && text[i + 1] === '*') {
      const close = text.indexOf('*/', i + 2);
      i = close < 0 ? text.length : close + 2;
    } else if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && !(text[j] === c && text[j + 1] !== c)) j += text[j] === c ? 2 : 1;
      i = j + 1;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_]*\$/.exec(text.slice(i))?.[0];
      if (tag) {
        const close = text.indexOf(tag, i + tag.length);
        i = close < 0 ? text.length : close + tag.length;
      } else i += 1;
    } else if (c === ';') {
      push(i);
      start = i + 1;
      i += 1;
    } else i += 1;
  }
  push(text.length);
  return out;
}

/** `statement` with its -- and /* *\/ comments removed (quotes are not considered: for statements' own text). */
export function stripComments(statement: string): string {
  return statement.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/--[^\n]*/g, ' ');
}
