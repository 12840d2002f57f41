import { ApiProperty } from '../openapi/optional-swagger.js';
import type { ErrorBody } from '@oversync/protocol';

// The error envelope of every sync answer (`errorEnvelope` of @oversync/protocol), for the OpenAPI document.

export class ErrorResponseDto implements ErrorBody {
  @ApiProperty({
    example: 'push_session_not_found',
    description: 'machine-readable code; clients must accept codes they do not know',
  })
  error: string;
  @ApiProperty({ example: 'push session 3a0df608-4dc2-44bb-b5fd-7f569180cbde was not found' }) message: string;
}
