/**
 * The document model cache of the editor features: each etcd document is parsed once per
 * version (by src/core/etcdFiles, loaded on the first matching document so activation stays
 * fast) and forgotten when it closes. Diagnostics, quick fixes, CodeLenses and the edit
 * commands all read it, so they agree on what the file says.
 */
import { promises as fs } from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { EtcdDiagnostic, ParsedEtcdFile } from '../core/etcdFiles';
import { ETCD_FILE_PATTERNS } from '../core/etcdFileNames';
import type { LensAnchor } from '../core/etcdFiles/lenses';

export type EtcdFilesCore = typeof import('../core/etcdFiles') & typeof import('../core/etcdFiles/lenses');

let corePromise: Promise<EtcdFilesCore> | undefined;

/** src/core/etcdFiles (and the `yaml` parser), loaded on first use. */
export function loadEtcdFilesCore(): Promise<EtcdFilesCore> {
  corePromise ??= Promise.all([import('../core/etcdFiles'), import('../core/etcdFiles/lenses')]).then(([a, b]) => ({ ...a, ...b }));
  return corePromise;
}

/** etcd's files by path (core/etcdFileNames); files that match only by pattern must also read like etcd's (isEditorRelevant). */
export const ETCD_FILE_SELECTOR: vscode.DocumentSelector = ETCD_FILE_PATTERNS.map((pattern) => ({ scheme: 'file', pattern }));

/** Everything the editor knows about one version of an etcd document. */
export interface EtcdDocumentState {
  uri: vscode.Uri;
  version: number;
  parsed: ParsedEtcdFile;
  /** Is it an etcd file at all? When false, nothing is shown. */
  relevant: boolean;
  /** The unit of an env file, or the env files of a unit, read from disk (for conflicts). */
  related: ParsedEtcdFile[];
  diagnostics: EtcdDiagnostic[];
  lenses: LensAnchor[];
  core: EtcdFilesCore;
}

async function readParsed(core: EtcdFilesCore, file: string): Promise<ParsedEtcdFile | undefined> {
  try {
    // never a FIFO or a device (they would block or never end), never more than etcd's files hold
    const text = await (await import('../core/fsSafe')).readRegularFile(file);
    return core.parseEtcdFile(text, file);
  } catch {
    return undefined;
  }
}

/** The files etcd also reads with this one: a unit's EnvironmentFile= targets; for an env file, units beside it that name it. */
async function relatedFiles(core: EtcdFilesCore, parsed: ParsedEtcdFile, file: string): Promise<ParsedEtcdFile[]> {
  const out: ParsedEtcdFile[] = [];
  if (parsed.kind === 'systemd') {
    for (const ref of parsed.environmentFiles.slice(0, 8)) {
      if (!path.isAbsolute(ref.path)) continue;
      const p = await readParsed(core, ref.path);
      if (p?.kind === 'env') out.push(p);
    }
  } else if (parsed.kind === 'env') {
    const dir = path.dirname(file);
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    for (const name of names.filter((n) => n.endsWith('.service')).slice(0, 16)) {
      const p = await readParsed(core, path.join(dir, name));
      if (p?.kind === 'systemd' && p.environmentFiles.some((f) => path.resolve(dir, f.path) === file)) out.push(p);
    }
  }
  return out;
}

export class EtcdDocumentModel implements vscode.Disposable {
  private readonly cache = new Map<string, { version: number; state: Promise<EtcdDocumentState | undefined> }>();
  /** The related files per document and kind: read from disk once, again after a save (invalidate). */
  private readonly related = new Map<string, Promise<ParsedEtcdFile[]>>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor() {
    this.disposables.push(
      vscode.workspace.onDidCloseTextDocument((d) => {
        this.cache.delete(d.uri.toString());
        for (const k of [...this.related.keys()]) if (k.endsWith(` ${d.uri.toString()}`)) this.related.delete(k);
      }),
    );
  }

  /** Forget every parsed version (after a save: related files may have changed). */
  invalidate(): void {
    this.cache.clear();
    this.related.clear();
  }

  /** Does the selector take this document (by scheme and pattern; content is checked later)? */
  matches(document: vscode.TextDocument): boolean {
    return vscode.languages.match(ETCD_FILE_SELECTOR, document) > 0;
  }

  /** The state of the document's current version; undefined when the selector does not take it. */
  get(document: vscode.TextDocument): Promise<EtcdDocumentState | undefined> {
    if (!this.matches(document)) return Promise.resolve(undefined);
    const key = document.uri.toString();
    const hit = this.cache.get(key);
    if (hit && hit.version === document.version) return hit.state;
    const version = document.version;
    const text = document.getText();
    const state = this.compute(document.uri, version, text);
    this.cache.set(key, { version, state });
    return state;
  }

  private async compute(uri: vscode.Uri, version: number, text: string): Promise<EtcdDocumentState | undefined> {
    const core = await loadEtcdFilesCore();
    const file = uri.fsPath;
    const parsed = core.parseEtcdFile(text, file);
    const relevant = core.isEditorRelevant(parsed, file);
    let related: ParsedEtcdFile[] = [];
    if (relevant && (parsed.kind === 'env' || parsed.kind === 'systemd')) {
      // A unit's key names its EnvironmentFile= targets, so editing them reads the new ones.
      const key = `${parsed.kind}:${parsed.environmentFiles.map((f) => f.path).join(',')} ${uri.toString()}`;
      let p = this.related.get(key);
      if (!p) {
        p = relatedFiles(core, parsed, file);
        this.related.set(key, p);
      }
      related = await p;
    }
    return {
      uri,
      version,
      parsed,
      relevant,
      related,
      diagnostics: relevant ? core.diagnoseEtcdFile(parsed, { related }) : [],
      lenses: relevant ? core.lensAnchors(parsed) : [],
      core,
    };
  }

  dispose(): void {
    this.cache.clear();
    for (const d of this.disposables) d.dispose();
  }
}
