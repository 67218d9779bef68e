import { createClient, type Interceptor } from '@connectrpc/connect';
import { createGrpcWebTransport } from '@connectrpc/connect-web';
import { BusinessProcessService } from '../../gen/process/v1/process_pb';
import { sessionToken } from '../auth/token';
import { errorFromConnect } from './errors';
import { reportUnauthenticated } from './http';

const authenticate: Interceptor = (next) => async (request) => {
  const token = sessionToken();
  if (token !== null) request.header.set('authorization', `Bearer ${token}`);
  return next(request);
};

const normaliseErrors: Interceptor = (next) => async (request) => {
  try {
    return await next(request);
  } catch (error) {
    const apiError = errorFromConnect(error);
    reportUnauthenticated(apiError);
    throw apiError;
  }
};

/** gRPC-Web in its binary format, the same contract grpcurl uses, by service path. */
const transport = createGrpcWebTransport({
  baseUrl: typeof window === 'undefined' ? 'http://127.0.0.1' : window.location.origin,
  interceptors: [normaliseErrors, authenticate],
});

/** business-process (`process.v1.BusinessProcessService`); it has no REST API. */
export const processClient = createClient(BusinessProcessService, transport);
