import { ApiProperty, ApiPropertyOptional } from '../openapi/optional-swagger.js';
import {
  CONNECT_RESOLUTIONS,
  type ConnectRequest,
  type ConnectResolution,
  type ConnectResponse,
} from '@oversync/protocol';

// Documentation of the connect bodies (each `implements` its protocol type); binding follows Go rules
// in connect.controller.ts.

const int64 = { type: 'integer', format: 'int64' } as const;

export class ConnectRequestDto implements ConnectRequest {
  @ApiPropertyOptional({
    example: true,
    description: 'whether the device holds local rows that were never synced (missing = false)',
  })
  has_local_pending_rows?: boolean;
}

export class ConnectResponseDto implements ConnectResponse {
  @ApiProperty({ enum: CONNECT_RESOLUTIONS, example: 'initialize_empty' }) resolution: ConnectResolution;
  @ApiPropertyOptional({ format: 'uuid', description: 'only with initialize_local: send it with the seed push' })
  initialization_id?: string;
  @ApiPropertyOptional({ example: '2026-03-22T12:15:00.329620Z', description: 'with initialize_local and retry_later' })
  lease_expires_at?: string;
  @ApiPropertyOptional({ ...int64, minimum: 1, description: 'only with retry_later' }) retry_after_seconds?: number;
}
