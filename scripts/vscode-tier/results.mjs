// Every result of a VS Code tier run (extension-host tests, VSIX content checks, UI checks),
// printed spec-style and counted for the last line "N passed, N failed".
export class Results {
  all = [];

  /** Record one result; returns it (for printing with its group). */
  record(group, titlePath, state, durationMs, error) {
    const t = { group, title: titlePath[titlePath.length - 1], titlePath, state, durationMs, error };
    this.all.push(t);
    return t;
  }

  /** Results the extension host wrote (already shaped like ours). */
  add(group, tests) {
    for (const t of tests) this.all.push({ group, ...t });
  }

  get passed() {
    return this.all.filter((r) => r.state === 'passed').length;
  }

  get failed() {
    return this.all.filter((r) => r.state === 'failed').length;
  }
}

/** Spec-style lines: suites indented, ✔ or ✖ per test, a failure's first 30 lines. */
export function printResults(group, tests) {
  console.log(`\n  ${group}`);
  let prev = [];
  for (const t of tests) {
    const suites = t.titlePath.slice(0, -1);
    let i = 0;
    while (i < suites.length && suites[i] === prev[i]) i++;
    for (; i < suites.length; i++) console.log(`${'  '.repeat(i + 2)}${suites[i]}`);
    prev = suites;
    const indent = '  '.repeat(suites.length + 2);
    const ms = t.durationMs >= 75 ? ` (${t.durationMs}ms)` : '';
    if (t.state === 'passed') {
      console.log(`${indent}✔ ${t.title}${ms}`);
    } else {
      console.log(`${indent}✖ ${t.title}${ms}`);
      for (const line of String(t.error ?? '').split('\n').slice(0, 30)) console.log(`${indent}    ${line}`);
    }
  }
}
