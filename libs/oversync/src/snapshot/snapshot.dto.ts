import { ApiProperty, ApiPropertyOptional } from '../openapi/optional-swagger.js';
import { SOURCE_REPLACEMENT_REASONS } from '@oversync/protocol';

// Documentation of the snapshot wire bodies; binding follows Go rules in snapshot-request.parser.ts.

export class SourceReplacementDto {
  @ApiProperty({ example: 'device-old', description: 'must equal the Oversync-Source-ID of the request' }) previous_source_id: string;
  @ApiProperty({ example: 'device-new' }) new_source_id: string;
  @ApiProperty({ enum: SOURCE_REPLACEMENT_REASONS }) reason: string;
}

export class CreateSnapshotSessionRequestDto {
  @ApiPropertyOptional({ type: SourceReplacementDto, description: 'omit (or send no body) for a keep-source rebuild' })
  source_replacement?: SourceReplacementDto;
}

export class SnapshotSessionResponseDto {
  @ApiProperty({ example: '2b82db1c-bf30-4ce2-953e-48591ed30192' }) snapshot_id: string;
  @ApiProperty({ example: 7 }) snapshot_bundle_seq: number;
  @ApiProperty({ example: 2 }) row_count: number;
  @ApiPropertyOptional({ example: 311, description: 'omitted for an empty snapshot' }) byte_count?: number;
  @ApiProperty({ example: '2026-03-22T12:15:00.329620Z' }) expires_at: string;
}

export class SnapshotRowDto {
  @ApiProperty({ example: 'business' }) schema: string;
  @ApiProperty({ example: 'posts' }) table: string;
  @ApiProperty({ example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d' } }) key: Record<string, string>;
  @ApiProperty({ example: 7 }) row_version: number;
  @ApiProperty({ example: { id: '0a0b0c0d-0e0f-4a1b-9c2d-3e4f5a6b7c8d', title: 'Hello' } }) payload: Record<string, unknown>;
}

export class SnapshotChunkResponseDto {
  @ApiProperty() snapshot_id: string;
  @ApiProperty() snapshot_bundle_seq: number;
  @ApiProperty({ type: [SnapshotRowDto] }) rows: SnapshotRowDto[];
  @ApiProperty({ description: 'after_row_ordinal + rows.length' }) next_row_ordinal: number;
  @ApiProperty() has_more: boolean;
}
