/**
 * @module
 * Splits a migration script into statements. Drivers take one statement per call
 * (better-sqlite3's `prepare` refuses more), so the migrator runs them one by one.
 * Understands `--` and `/* *\/` comments, '…' and "…" quoting, PostgreSQL dollar quoting
 * (`$$…$$`, `$tag$…$tag$`) and SQLite trigger bodies (`CREATE TRIGGER … BEGIN … END;`).
 */
export function splitSqlStatements(script: string): string[] {
  const statements: string[] = [];
  let current = '';
  let i = 0;
  // Depth of BEGIN…END inside a CREATE TRIGGER (SQLite): `;` inside does not end it.
  let triggerDepth = 0;
  const n = script.length;

  const flush = (): void => {
    const text = current.trim();
    if (stripComments(text).replace(/;/g, '').trim() !== '') statements.push(text);
    current = '';
  };

  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const end = script.indexOf('\n', i);
      const stop = end === -1 ? n : end + 1;
      current += script.slice(i, stop);
      i = stop;
    } else if (c === '/' && next === '*') {
      const end = script.indexOf('*/', i + 2);
      const stop = end === -1 ? n : end + 2;
      current += script.slice(i, stop);
      i = stop;
    } else if (c === "'" || c === '"' || c === '`') {
      let j = i + 1;
      for (;;) {
        if (j >= n) break;
        if (script[j] === c) {
          if (script[j + 1] === c) j += 2; // doubled quote
          else break;
        } else j++;
      }
      current += script.slice(i, j + 1);
      i = j + 1;
    } else if (c === '$' && /^\$[A-Za-z_]*\$/.test(script.slice(i, i + 64)) && !/[A-Za-z0-9_]/.test(script[i - 1] ?? ' ')) {
      const tag = /^\$[A-Za-z_]*\$/.exec(script.slice(i, i + 64))![0];
      const end = script.indexOf(tag, i + tag.length);
      const stop = end === -1 ? n : end + tag.length;
      current += script.slice(i, stop);
      i = stop;
    } else if (c === ';') {
      current += c;
      i++;
      if (triggerDepth === 0) flush();
    } else if (/[A-Za-z_]/.test(c) && !/[A-Za-z0-9_$]/.test(script[i - 1] ?? ' ')) {
      const word = /^[A-Za-z_][A-Za-z0-9_$]*/.exec(script.slice(i))![0];
      const upper = word.toUpperCase();
      if (upper === 'BEGIN' && /^\s*CREATE\s+(TEMP\s+|TEMPORARY\s+)?TRIGGER\b/i.test(stripComments(current))) triggerDepth++;
      else if (upper === 'CASE' && triggerDepth > 0) triggerDepth++;
      else if (upper === 'END' && triggerDepth > 0) triggerDepth--;
      current += word;
      i += word.length;
    } else {
      current += c;
      i++;
    }
  }
  flush();
  return statements;
}

function stripComments(sql: string): string {
  return sql.replace(/--[^\n]*\n?/g, '').replace(/\/\*[\s\S]*?\*\//g, '');
}
