// Errors of the HTTP API in AWS's restJson1 shape: the error type in the `x-amzn-ErrorType`
// header (which the AWS SDKs read to raise the right exception) and a JSON body with `message`.
export class ApiError extends Error {
  readonly statusCode: number;
  constructor(name: string, statusCode: number, message: string) {
    super(message);
    this.name = name;
    this.statusCode = statusCode;
  }
}

export const badRequest = (message: string) => new ApiError('InvalidRequestException', 400, message);
export const unauthorized = (message: string) => new ApiError('UnauthorizedException', 401, message);
export const forbidden = (message: string) => new ApiError('ForbiddenException', 403, message);
export const notFound = (message: string) => new ApiError('ResourceNotFoundException', 404, message);
