/**
 * Where remote copies go: a flat namespace of objects under one prefix. The engine talks only
 * to this interface; `storeS3.ts` implements it for S3 and S3-compatible stores. Names passed
 * here are relative to the plan's prefix (`prod-20261201T000000Z.db.gz.age`); the store adds
 * the prefix. Every failure is an EtcdBackupError whose message is the sentence to show.
 */
import type { Readable } from 'stream';

export interface StoredObject {
  /** Name relative to the store's prefix. */
  name: string;
  size: number;
  lastModified?: Date;
}

export interface UploadOptions {
  contentType?: string;
  signal?: AbortSignal;
  /** Bytes sent so far (called now and then). */
  onProgress?: (bytes: number) => void;
}

/** A multipart upload that was started and neither completed nor aborted (a run that died mid-upload). */
export interface UnfinishedUpload {
  /** Name relative to the store's prefix. */
  name: string;
  uploadId: string;
  initiated?: Date;
}

export interface ObjectStore {
  /** For messages: `s3://bucket/prefix` (with the endpoint when it is not AWS). */
  readonly where: string;
  /** The bucket exists and the credentials may use it (HeadBucket). */
  check(signal?: AbortSignal): Promise<void>;
  /** Every object directly under the prefix (not in deeper "folders"), in any order. */
  list(signal?: AbortSignal): Promise<StoredObject[]>;
  /**
   * Stream `body` to `name` (multipart for large bodies). The object appears under `name` only
   * when the whole body arrived; on failure nothing is left under `name`.
   */
  upload(name: string, body: Readable, opts?: UploadOptions): Promise<void>;
  /** Write a small object in one request. */
  putSmall(name: string, body: Buffer | string, contentType?: string): Promise<void>;
  /** Read an object as a stream (the caller checks what it reads). */
  download(name: string, signal?: AbortSignal): Promise<Readable>;
  /** Read a small object whole. */
  getSmall(name: string, signal?: AbortSignal): Promise<Buffer>;
  remove(name: string): Promise<void>;
  /**
   * Multipart uploads under the prefix that were never completed or aborted; `unsupported` when
   * the store does not list them (ListMultipartUploads not implemented).
   */
  listUnfinished?(signal?: AbortSignal): Promise<UnfinishedUpload[] | 'unsupported'>;
  /** Abort one unfinished upload: the store drops its parts. */
  abortUnfinished?(u: UnfinishedUpload): Promise<void>;
  /** Release connections. */
  close(): void;
}
