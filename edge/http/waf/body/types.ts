// What a request body processor extracts: the variables ModSecurity fills from a body
// (Reference Manual v2.x: ARGS_POST, FILES, FILES_NAMES, FILES_SIZES, MULTIPART_PART_HEADERS,
// XML, REQBODY_ERROR, MULTIPART_STRICT_ERROR). All names and values are byte strings.

export type BodyProcessorName = 'URLENCODED' | 'MULTIPART' | 'JSON' | 'XML';

export interface UploadedFile {
  /** The form field name (FILES_NAMES). */
  readonly field: string;
  /** The file name the client sent (FILES). */
  readonly filename: string;
  readonly size: number;
  readonly contentType: string;
}

/** The multipart anomalies ModSecurity reports one by one (MULTIPART_* variables). */
export interface MultipartFlags {
  boundaryQuoted: boolean;
  boundaryWhitespace: boolean;
  dataBefore: boolean;
  dataAfter: boolean;
  headerFolding: boolean;
  lfLine: boolean;
  missingSemicolon: boolean;
  invalidQuoting: boolean;
  invalidPart: boolean;
  invalidHeaderFolding: boolean;
  fileLimitExceeded: boolean;
  unmatchedBoundary: boolean;
}

export interface ParsedBody {
  readonly processor: BodyProcessorName | null;
  /** ARGS_POST, in body order; names may repeat. */
  readonly args: readonly (readonly [string, string])[];
  readonly files: readonly UploadedFile[];
  /** MULTIPART_PART_HEADERS: part name → each header line of that part. */
  readonly partHeaders: readonly (readonly [string, string])[];
  /** XML:/* — the text of the document (and, beyond ModSecurity, its attribute values). */
  readonly xml: readonly string[] | null;
  /** REQBODY_ERROR_MSG when the body could not be parsed; null when it could. */
  readonly error: string | null;
  readonly multipart: MultipartFlags | null;
}

export interface BodyLimits {
  /** Arguments extracted from a body at most (SecArgumentsLimit); more is a body error. */
  readonly maxArgs: number;
  /** JSON nesting at most (SecRequestBodyJsonDepthLimit). */
  readonly maxJsonDepth: number;
  /** Multipart parts at most. */
  readonly maxParts: number;
}

export const DEFAULT_BODY_LIMITS: BodyLimits = { maxArgs: 1000, maxJsonDepth: 512, maxParts: 1000 };

export function emptyBody(processor: BodyProcessorName | null, error: string | null = null): ParsedBody {
  return { processor, args: [], files: [], partHeaders: [], xml: null, error, multipart: null };
}
