import { ApiProperty, ApiPropertyOptional } from '../openapi/optional-swagger.js';
import {
  PUSH_SESSION_STATUSES,
  ROW_OPS,
  type JsonObject,
  type PushChunkRequest,
  type PushChunkResponse,
  type PushCommitResponse,
  type PushRequestRow,
  type PushSessionCreateRequest,
  type PushSessionStatus,
  type RowOp,
  type WireKey,
} from '@oversync/protocol';

// Documentation of the push-session bodies (each `implements` its protocol type, but for the union of the
// push-session answer); binding follows Go rules (push.controller.ts, push-chunk.parser.ts).

const int64 = { type: 'integer', format: 'int64' } as const;

export class CreatePushSessionRequestDto implements PushSessionCreateRequest {
  @ApiProperty({ ...int64, example: 7, description: 'per-source contiguous counter, > 0' }) source_bundle_id: bigint;
  @ApiProperty({ ...int64, example: 2, description: 'rows the session will stage, > 0' }) planned_row_count: bigint;
  @ApiPropertyOptional({ description: 'required while the scope is initializing (from connect)' })
  initialization_id?: string;
}

export class CreatePushSessionResponseDto {
  @ApiProperty({ enum: PUSH_SESSION_STATUSES }) status: PushSessionStatus;
  @ApiPropertyOptional({ format: 'uuid', description: 'with status staging' }) push_id?: string;
  @ApiPropertyOptional({ ...int64, description: 'with status staging' }) planned_row_count?: bigint;
  @ApiPropertyOptional({
    ...int64,
    description: 'with status already_committed: the committed bundle of this (source, source_bundle_id)',
  })
  bundle_seq?: bigint;
  @ApiPropertyOptional({ description: 'with status already_committed' }) source_id?: string;
  @ApiPropertyOptional({ ...int64, description: 'with status already_committed' }) source_bundle_id?: bigint;
  @ApiPropertyOptional({ ...int64, description: 'with status already_committed' }) row_count?: bigint;
  @ApiPropertyOptional({ description: 'with status already_committed: hex SHA-256 of the canonical bundle' })
  bundle_hash?: string;
}

export class PushRowDto implements PushRequestRow {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'users' }) table: string;
  @ApiProperty({
    example: { id: '6f1c2a9e-3b4d-4e5f-8a7b-1c2d3e4f5a6b' },
    description: 'one member: the sync key column and its text',
  })
  key: WireKey;
  @ApiProperty({ enum: ROW_OPS }) op: RowOp;
  @ApiProperty({ ...int64, example: 0, description: '0 for rows the device never saw' }) base_row_version: bigint;
  @ApiPropertyOptional({ example: { name: 'Ada Lovelace' }, description: 'absent for DELETE' }) payload?: JsonObject;
}

export class PushChunkRequestDto implements PushChunkRequest {
  @ApiProperty({ ...int64, example: 0 }) start_row_ordinal: bigint;
  @ApiProperty({ type: [PushRowDto] }) rows: PushRowDto[];
}

export class PushChunkResponseDto implements PushChunkResponse {
  @ApiProperty({ format: 'uuid' }) push_id: string;
  @ApiProperty({ ...int64, example: 2 }) next_expected_row_ordinal: bigint;
}

export class CommittedBundleDto implements PushCommitResponse {
  @ApiProperty({ ...int64, example: 12 }) bundle_seq: bigint;
  @ApiProperty({ example: 'device-1' }) source_id: string;
  @ApiProperty({ ...int64, example: 7 }) source_bundle_id: bigint;
  @ApiProperty({ ...int64, example: 2 }) row_count: bigint;
  @ApiProperty({ example: '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08' }) bundle_hash: string;
}
