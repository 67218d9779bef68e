import { Code, ConnectError } from '@connectrpc/connect';
import { BadRequestSchema } from '../../gen/google/rpc/error_details_pb';

/** One wrong field as the server names it: `title`, `items[0].unitPrice`, `appliedFrom`. */
export interface FieldError {
  field: string;
  message: string;
}

/** An RFC 9457 problem from the REST API or report-service. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
  /** The spelling some problem documents use for the same list. */
  invalidParams?: Array<{ name: string; reason: string }>;
}

/** A failed call, whichever protocol it used. */
export class ApiError extends Error {
  readonly status: number;
  readonly fieldErrors: FieldError[];
  readonly retryAfterSeconds: number | null;

  constructor(
    message: string,
    status: number,
    fieldErrors: FieldError[] = [],
    retryAfterSeconds: number | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.fieldErrors = fieldErrors;
    this.retryAfterSeconds = retryAfterSeconds;
  }

  get unauthenticated(): boolean {
    return this.status === 401;
  }
}

export function problemFieldErrors(problem: Problem): FieldError[] {
  if (Array.isArray(problem.errors)) return problem.errors;
  if (Array.isArray(problem.invalidParams)) {
    return problem.invalidParams.map(({ name, reason }) => ({ field: name, message: reason }));
  }
  return [];
}

/** The ApiError of a response that is not OK, from its problem+json body when it has one. */
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let problem: unknown = {};
  try {
    problem = await response.json();
  } catch {
    // Not JSON (a proxy's page): the status says enough.
  }
  return errorFromProblem(response, problem);
}

/** The ApiError of a response whose body was already read. */
export function errorFromProblem(response: Response, body: unknown): ApiError {
  const problem: Problem = typeof body === 'object' && body !== null ? (body as Problem) : {};
  const retryAfter = Number(response.headers.get('retry-after'));
  return new ApiError(
    problem.detail ?? problem.title ?? response.statusText ?? `HTTP ${response.status}`,
    response.status,
    problemFieldErrors(problem),
    Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null,
  );
}

const GRPC_TO_HTTP: Partial<Record<Code, number>> = {
  [Code.InvalidArgument]: 400,
  [Code.Unauthenticated]: 401,
  [Code.PermissionDenied]: 403,
  [Code.NotFound]: 404,
  [Code.AlreadyExists]: 422,
  [Code.FailedPrecondition]: 409,
  [Code.Aborted]: 409,
  [Code.ResourceExhausted]: 429,
  [Code.Unavailable]: 503,
};

/** The ApiError of a failed gRPC-Web call, with the `google.rpc.BadRequest` field violations. */
export function errorFromConnect(error: unknown): ApiError {
  const connectError = ConnectError.from(error);
  const fieldErrors = connectError.findDetails(BadRequestSchema).flatMap((details) =>
    details.fieldViolations.map((violation) => ({
      field: violation.field,
      message: violation.description,
    })),
  );
  return new ApiError(
    connectError.rawMessage || connectError.message,
    GRPC_TO_HTTP[connectError.code] ?? 500,
    fieldErrors,
  );
}

/** `items[0].unitPrice` → `items.0.unitPrice`, the path form forms use. */
export function fieldPath(field: string): string {
  return field.replace(/\[(\d+)\]/g, '.$1');
}
