/** One flag of a subcommand, as declared in its {@link CommandSpec}. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Another long name accepted for it, named in the help (`--endpoint` for `--endpoints`). */
  alias?: string;
  /** Placeholder in the help: `--config FILE`. */
  value?: string;
  help: string;
  /** Shown in the usage line and refused when absent (or empty). */
  required?: boolean;
  /** For a required flag: the sentence when it is missing, said once every other required flag is given. */
  ifMissing?: () => string;
  /** For a required flag: not required when this other flag is given (`--plan` gives the cluster flags). */
  unlessGiven?: string;
}

/** One subcommand: its flags, positionals and help, from which both the parsing and `--help` come (./args.ts). */
export interface CommandSpec {
  /** `backup run` */
  name: string;
  summary: string;
  /**
   * Positional arguments, for the usage line (`<file>`) and their count; none accepted when absent.
   * `sentence` is what a wrong count is told (otherwise "expected <usage>").
   */
  positionals?: { usage: string; min: number; max: number; sentence?: string };
  options: Record<string, OptionSpec>;
  /** Paragraphs after the options. */
  description?: string;
}

/** A subcommand of the CLI. `run` returns the exit status. */
export interface CliCommand {
  summary: string;
  /** The definitions its flags and `--help` come from; `backup fetch` has two (a backup, a point in time). */
  specs: CommandSpec[];
  run(args: string[]): Promise<number>;
}

/** Wrong flags or arguments: printed with exit status 2. */
export class CliUsageError extends Error {}
