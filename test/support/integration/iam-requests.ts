/**
 * What IAM authorizes for each recorded SDK call: the action(s), the resource ARN(s) and the request's condition
 * keys, as the AWS Service Authorization Reference and the S3/KMS documentation describe the operation — plus
 * the calls a service makes to KMS on the caller's behalf (S3 with SSE-KMS: `kms:GenerateDataKey` to write,
 * `kms:Decrypt` to read, with `kms:ViaService` = S3 and the bucket as encryption context, as with S3 Bucket Keys).
 *
 * This maps *operations* to authorization requests; the calls themselves come from the recorder. An operation
 * with no mapping here fails the evaluation (add it rather than let a call go unchecked).
 */
import type { RecordedCall } from './iam-recorder.ts';

export interface AuthorizationRequest {
  action: string;
  resource: string;
  /** Condition keys the request carries (principal and transport keys are added by the simulator). */
  context: Record<string, string | string[]>;
  /** Set when a service makes the request on the caller's behalf (`s3` for S3's calls to KMS). */
  via?: string;
  /** `S3 PutObject s3://bucket/key`: the recorded call this request authorizes, for messages. */
  origin: string;
}

export interface RequestEnvironment {
  accountId: string;
  region: string;
  /** The KMS key a bucket encrypts new objects with by default, as the template configures it (undefined: not SSE-KMS). */
  bucketDefaultKey(bucket: string): string | undefined;
  /** What Athena does with the caller's credentials; without it, only the Athena API calls themselves are evaluated. */
  athena?: AthenaEnvironment;
}

/** The template's Athena and Glue settings, and the objects Athena found, to derive what a query does as its caller. */
export interface AthenaEnvironment {
  /** The workgroup's result location (`s3://bucket/prefix/`) and the encryption it enforces on results. */
  workgroup(name: string): { outputLocation: string; encryption?: string; kmsKey?: string } | undefined;
  /** A Glue table's location (`s3://bucket/prefix/`). */
  tableLocation(database: string, table: string): string | undefined;
  /** The object keys under a prefix (what a query reads or an UNLOAD wrote). */
  objects(bucket: string, prefix: string): string[];
}

const str = (value: unknown): string | undefined => (value === undefined || value === null ? undefined : String(value));

function describe(call: RecordedCall): string {
  const i = call.input;
  if (call.service === 'S3')
    return `S3 ${call.operation} s3://${str(i.Bucket) ?? ''}/${str(i.Key) ?? str(i.Prefix) ?? ''}${i.VersionId ? `?versionId=${str(i.VersionId)}` : ''}`;
  if (call.service === 'Glue')
    return `Glue ${call.operation} ${str(i.DatabaseName) ?? ''}.${str(i.TableName) ?? str(i.Name) ?? ''}`;
  if (call.service === 'Athena') return `Athena ${call.operation} ${str(i.WorkGroup) ?? str(i.QueryExecutionId) ?? ''}`;
  return `${call.service} ${call.operation}`;
}

/** S3 condition keys named after request headers (`s3:x-amz-server-side-encryption` …), from the HTTP request the SDK built. */
function s3HeaderKeys(call: RecordedCall): Record<string, string> {
  const keys: Record<string, string> = {};
  for (const [header, value] of Object.entries(call.request.headers)) {
    if (
      header.startsWith('x-amz-server-side-encryption') ||
      [
        'x-amz-acl',
        'x-amz-storage-class',
        'x-amz-copy-source',
        'x-amz-metadata-directive',
        'x-amz-object-ownership',
      ].includes(header) ||
      header.startsWith('x-amz-grant-')
    ) {
      keys[`s3:${header}`] = value;
    }
  }
  if (call.request.headers['x-amz-object-lock-mode'])
    keys['s3:object-lock-mode'] = call.request.headers['x-amz-object-lock-mode'];
  if (call.request.headers['x-amz-object-lock-retain-until-date'])
    keys['s3:object-lock-retain-until-date'] = call.request.headers['x-amz-object-lock-retain-until-date'];
  return keys;
}

function keyArn(env: RequestEnvironment, key: string): string {
  return key.startsWith('arn:') ? key : `arn:aws:kms:${env.region}:${env.accountId}:key/${key}`;
}

/** The key S3 uses for an object write: the one the request names, else the bucket default; undefined if not SSE-KMS. */
function writeKey(call: RecordedCall, env: RequestEnvironment, bucket: string): string | undefined {
  const sse = call.request.headers['x-amz-server-side-encryption'];
  if (sse !== undefined && !sse.startsWith('aws:kms')) return undefined;
  const named = call.request.headers['x-amz-server-side-encryption-aws-kms-key-id'];
  return named ? keyArn(env, named) : env.bucketDefaultKey(bucket);
}

/** The key an object is encrypted with: what S3 answered (`SSEKMSKeyId`), else the bucket default. */
function readKey(call: RecordedCall, env: RequestEnvironment, bucket: string): string | undefined {
  const answered = str(call.output?.SSEKMSKeyId);
  if (
    call.output?.ServerSideEncryption !== undefined &&
    !String(call.output.ServerSideEncryption).startsWith('aws:kms')
  )
    return undefined;
  return answered ? keyArn(env, answered) : env.bucketDefaultKey(bucket);
}

/** S3's request to KMS on the caller's behalf (Bucket Keys on: the encryption context is the bucket's ARN). */
function viaS3(
  action: 'kms:GenerateDataKey' | 'kms:Decrypt',
  key: string,
  bucket: string,
  env: RequestEnvironment,
  origin: string,
): AuthorizationRequest {
  return {
    action,
    resource: key,
    via: 's3',
    origin: `${origin} → KMS ${action.slice(4)} by S3`,
    context: {
      'kms:ViaService': `s3.${env.region}.amazonaws.com`,
      'kms:CallerAccount': env.accountId,
      'kms:EncryptionContextKeys': ['aws:s3:arn'],
      'kms:EncryptionContext:aws:s3:arn': `arn:aws:s3:::${bucket}`,
    },
  };
}

function s3Requests(call: RecordedCall, env: RequestEnvironment, origin: string): AuthorizationRequest[] {
  const i = call.input;
  const bucket = str(i.Bucket);
  if (!bucket) throw new Error(`${origin}: no Bucket in the input`);
  const bucketArn = `arn:aws:s3:::${bucket}`;
  const objectArn = (key: unknown) => `${bucketArn}/${String(key)}`;
  const headers = s3HeaderKeys(call);
  const versioned = (action: string, versionId: unknown) => (versionId ? `${action}Version` : action);
  const versionKey = (versionId: unknown): Record<string, string> =>
    versionId ? { 's3:versionid': String(versionId) } : {};
  const kms = (action: 'kms:GenerateDataKey' | 'kms:Decrypt', key: string | undefined, b = bucket) =>
    key ? [viaS3(action, key, b, env, origin)] : [];
  const put = (extra: Record<string, string> = {}): AuthorizationRequest => ({
    action: 's3:PutObject',
    resource: objectArn(i.Key),
    context: { ...headers, ...extra },
    origin,
  });

  switch (call.operation) {
    case 'GetObject':
      return [
        {
          action: versioned('s3:GetObject', i.VersionId),
          resource: objectArn(i.Key),
          context: versionKey(i.VersionId),
          origin,
        },
        // A failed GET (404, 403) decrypts nothing.
        ...(call.error ? [] : kms('kms:Decrypt', readKey(call, env, bucket))),
      ];
    case 'HeadObject': // authorized as GetObject; returns metadata only, so no KMS
      return [
        {
          action: versioned('s3:GetObject', i.VersionId),
          resource: objectArn(i.Key),
          context: versionKey(i.VersionId),
          origin,
        },
      ];
    case 'PutObject': {
      const tagging = call.request.headers['x-amz-tagging']
        ? [{ action: 's3:PutObjectTagging', resource: objectArn(i.Key), context: {}, origin }]
        : [];
      // A conditional write on an ETag (If-Match) also needs s3:GetObject on the object (S3 user guide, "How to
      // prevent object overwrites with conditional writes").
      const ifMatch =
        typeof i.IfMatch === 'string' && i.IfMatch !== '*'
          ? [{ action: 's3:GetObject', resource: objectArn(i.Key), context: versionKey(undefined), origin }]
          : [];
      return [put(), ...ifMatch, ...tagging, ...kms('kms:GenerateDataKey', writeKey(call, env, bucket))];
    }
    case 'CreateMultipartUpload': {
      const key = writeKey(call, env, bucket);
      return [put(), ...kms('kms:GenerateDataKey', key), ...kms('kms:Decrypt', key)];
    }
    case 'UploadPart':
      return [put(), ...kms('kms:GenerateDataKey', env.bucketDefaultKey(bucket))];
    case 'CompleteMultipartUpload':
      return [put(), ...kms('kms:Decrypt', env.bucketDefaultKey(bucket))];
    case 'AbortMultipartUpload':
      return [{ action: 's3:AbortMultipartUpload', resource: objectArn(i.Key), context: {}, origin }];
    case 'ListParts':
      return [{ action: 's3:ListMultipartUploadParts', resource: objectArn(i.Key), context: {}, origin }];
    case 'CopyObject': {
      const source = decodeURIComponent(String(i.CopySource ?? ''));
      const [path = '', query = ''] = source.replace(/^\//, '').split('?');
      const sourceBucket = path.slice(0, path.indexOf('/'));
      const sourceVersion = new URLSearchParams(query).get('versionId') ?? undefined;
      return [
        put(),
        {
          action: versioned('s3:GetObject', sourceVersion),
          resource: `arn:aws:s3:::${path}`,
          context: versionKey(sourceVersion),
          origin,
        },
        ...kms('kms:Decrypt', env.bucketDefaultKey(sourceBucket), sourceBucket),
        ...kms('kms:GenerateDataKey', writeKey(call, env, bucket)),
      ];
    }
    case 'DeleteObject':
      return [
        {
          action: versioned('s3:DeleteObject', i.VersionId),
          resource: objectArn(i.Key),
          context: versionKey(i.VersionId),
          origin,
        },
        // A conditional delete on an ETag (If-Match) also needs s3:GetObject on the object (S3 user guide,
        // "How to perform conditional deletes").
        ...(typeof i.IfMatch === 'string' && i.IfMatch !== '*'
          ? [{ action: 's3:GetObject', resource: objectArn(i.Key), context: versionKey(undefined), origin }]
          : []),
      ];
    case 'DeleteObjects': {
      // Authorized per object, as s3:DeleteObject(Version).
      const objects = (
        (i.Delete as { Objects?: { Key?: string; VersionId?: string }[] } | undefined)?.Objects ?? []
      ).map((o) => o);
      return objects.map((o) => ({
        action: versioned('s3:DeleteObject', o.VersionId),
        resource: objectArn(o.Key),
        context: versionKey(o.VersionId),
        origin: `${origin} (${o.Key})`,
      }));
    }
    case 'ListObjectsV2':
    case 'ListObjects':
    case 'ListObjectVersions': {
      const context: Record<string, string> = {};
      if (i.Prefix !== undefined) context['s3:prefix'] = String(i.Prefix);
      if (i.Delimiter !== undefined) context['s3:delimiter'] = String(i.Delimiter);
      if (i.MaxKeys !== undefined) context['s3:max-keys'] = String(i.MaxKeys);
      return [
        {
          action: call.operation === 'ListObjectVersions' ? 's3:ListBucketVersions' : 's3:ListBucket',
          resource: bucketArn,
          context,
          origin,
        },
      ];
    }
    case 'HeadBucket':
      return [{ action: 's3:ListBucket', resource: bucketArn, context: {}, origin }];
    case 'GetBucketLocation':
      return [{ action: 's3:GetBucketLocation', resource: bucketArn, context: {}, origin }];
    default:
      throw new Error(`${origin}: no IAM mapping for S3 ${call.operation} in iam-requests.ts`);
  }
}

function glueRequests(call: RecordedCall, env: RequestEnvironment, origin: string): AuthorizationRequest[] {
  const i = call.input;
  const catalogId = str(i.CatalogId) ?? env.accountId;
  const base = `arn:aws:glue:${env.region}:${catalogId}`;
  const database = str(i.DatabaseName) ?? str(i.Name);
  const action = `glue:${call.operation}`;
  const on = (...resources: string[]) => resources.map((resource) => ({ action, resource, context: {}, origin }));
  switch (call.operation) {
    case 'GetDatabase':
      return on(`${base}:catalog`, `${base}:database/${database}`);
    case 'GetTables':
      return on(`${base}:catalog`, `${base}:database/${database}`, `${base}:table/${database}/*`);
    case 'GetTable':
    case 'GetPartition':
    case 'GetPartitions':
    case 'BatchGetPartition':
    case 'CreatePartition':
    case 'UpdatePartition':
    case 'DeletePartition':
    case 'BatchCreatePartition':
    case 'BatchUpdatePartition':
    case 'BatchDeletePartition':
      return on(
        `${base}:catalog`,
        `${base}:database/${database}`,
        `${base}:table/${database}/${str(i.TableName) ?? str(i.Name)}`,
      );
    default:
      throw new Error(`${origin}: no IAM mapping for Glue ${call.operation} in iam-requests.ts`);
  }
}

function athenaRequests(
  call: RecordedCall,
  env: RequestEnvironment,
  origin: string,
  history: readonly RecordedCall[],
): AuthorizationRequest[] {
  const i = call.input;
  const workgroupArn = (name: string) => `arn:aws:athena:${env.region}:${env.accountId}:workgroup/${name}`;
  const action = `athena:${call.operation}`;
  switch (call.operation) {
    case 'StartQueryExecution': {
      const workgroup = str(i.WorkGroup) ?? 'primary';
      return [
        { action, resource: workgroupArn(workgroup), context: {}, origin },
        ...(env.athena && !call.error ? athenaImplied(call, env, env.athena, workgroup, origin) : []),
      ];
    }
    case 'GetWorkGroup':
    case 'ListQueryExecutions':
      return [{ action, resource: workgroupArn(str(i.WorkGroup) ?? 'primary'), context: {}, origin }];
    case 'GetQueryExecution':
    case 'GetQueryResults':
    case 'StopQueryExecution':
    case 'GetQueryRuntimeStatistics': {
      // Authorized on the query's workgroup: the one its StartQueryExecution named.
      const start = history.find(
        (c) =>
          c.service === 'Athena' &&
          c.operation === 'StartQueryExecution' &&
          c.output?.QueryExecutionId === i.QueryExecutionId,
      );
      const workgroup = start
        ? (str(start.input.WorkGroup) ?? 'primary')
        : str((call.output?.QueryExecution as { WorkGroup?: string } | undefined)?.WorkGroup);
      if (!workgroup)
        throw new Error(
          `${origin}: query ${str(i.QueryExecutionId)} was not started by a recorded call; its workgroup is unknown`,
        );
      const implied =
        call.operation === 'GetQueryResults' && env.athena && !call.error
          ? athenaImplied(call, env, env.athena, workgroup, origin)
          : [];
      return [
        { action, resource: workgroupArn(workgroup), context: {}, origin: `${origin} (${workgroup})` },
        ...implied,
      ];
    }
    default:
      throw new Error(`${origin}: no IAM mapping for Athena ${call.operation} in iam-requests.ts`);
  }
}

const CALLED_VIA_ATHENA = {
  'aws:CalledVia': ['athena.amazonaws.com'],
  'aws:CalledViaFirst': 'athena.amazonaws.com',
  'aws:CalledViaLast': 'athena.amazonaws.com',
};

function splitS3Uri(uri: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not an s3:// location: ${uri}`);
  return { bucket: m[1]!, prefix: m[2]! };
}

/**
 * What Athena does with the caller's credentials for a query (forward access sessions, `aws:CalledVia` =
 * athena.amazonaws.com): reads the Glue tables the SQL names and their files, writes the results (and an UNLOAD's
 * output) with the workgroup's encryption, reads the results back for GetQueryResults. The tables come from the
 * SQL's qualified `database.table` names; the objects from what the emulator holds after the run.
 */
function athenaImplied(
  call: RecordedCall,
  env: RequestEnvironment,
  athena: AthenaEnvironment,
  workgroupName: string,
  origin: string,
): AuthorizationRequest[] {
  const workgroup = athena.workgroup(workgroupName);
  if (!workgroup) throw new Error(`${origin}: workgroup ${workgroupName} is not in the template`);
  const results = splitS3Uri(workgroup.outputLocation);
  const via = (o: AuthorizationRequest): AuthorizationRequest => ({
    ...o,
    context: { ...CALLED_VIA_ATHENA, ...o.context },
    via: o.via ?? 'athena',
    origin: `${origin} → ${o.origin}`,
  });
  const sseHeaders: Record<string, string> =
    workgroup.encryption === 'SSE_KMS'
      ? {
          's3:x-amz-server-side-encryption': 'aws:kms',
          ...(workgroup.kmsKey ? { 's3:x-amz-server-side-encryption-aws-kms-key-id': workgroup.kmsKey } : {}),
        }
      : {};
  const writeKey = workgroup.encryption === 'SSE_KMS' ? workgroup.kmsKey : undefined;
  const kmsVia = (action: 'kms:GenerateDataKey' | 'kms:Decrypt', key: string | undefined, bucket: string) =>
    key ? [via(viaS3(action, key, bucket, env, 'S3'))] : [];
  const id = String(call.output?.QueryExecutionId ?? call.input.QueryExecutionId ?? 'unknown');
  const resultObject = `${results.prefix}${id}.csv`;

  if (call.operation === 'GetQueryResults') {
    return [
      via({
        action: 's3:GetObject',
        resource: `arn:aws:s3:::${results.bucket}/${resultObject}`,
        context: {},
        origin: `S3 GetObject of the results`,
      }),
      ...kmsVia('kms:Decrypt', writeKey ?? env.bucketDefaultKey(results.bucket), results.bucket),
    ];
  }
  const sql = String(call.input.QueryString ?? '');
  const requests: AuthorizationRequest[] = [
    via({
      action: 's3:GetBucketLocation',
      resource: `arn:aws:s3:::${results.bucket}`,
      context: {},
      origin: 'S3 GetBucketLocation of the results bucket',
    }),
    ...[resultObject, `${resultObject}.metadata`].map((key) =>
      via({
        action: 's3:PutObject',
        resource: `arn:aws:s3:::${results.bucket}/${key}`,
        context: sseHeaders,
        origin: `S3 PutObject of the results`,
      }),
    ),
    ...kmsVia('kms:GenerateDataKey', writeKey ?? env.bucketDefaultKey(results.bucket), results.bucket),
  ];
  const catalog = `arn:aws:glue:${env.region}:${env.accountId}`;
  const tables = [
    ...new Set(
      [...sql.matchAll(/\b(?:FROM|JOIN)\s+"?([A-Za-z0-9_]+)"?\s*\.\s*"?([A-Za-z0-9_]+)"?/gi)].map(
        (m) => `${m[1]}.${m[2]}`,
      ),
    ),
  ];
  for (const qualified of tables) {
    const [database, table] = qualified.split('.') as [string, string];
    const location = athena.tableLocation(database, table);
    if (!location) throw new Error(`${origin}: the query reads ${qualified}, which is not a table of the template`);
    for (const action of ['glue:GetDatabase', 'glue:GetTable', 'glue:GetPartitions']) {
      const resources = [
        `${catalog}:catalog`,
        `${catalog}:database/${database}`,
        ...(action === 'glue:GetDatabase' ? [] : [`${catalog}:table/${database}/${table}`]),
      ];
      requests.push(
        ...resources.map((resource) =>
          via({ action, resource, context: {}, origin: `Glue ${action.slice(5)} ${qualified}` }),
        ),
      );
    }
    const { bucket, prefix } = splitS3Uri(location);
    requests.push(
      via({
        action: 's3:GetBucketLocation',
        resource: `arn:aws:s3:::${bucket}`,
        context: {},
        origin: `S3 GetBucketLocation of ${qualified}`,
      }),
    );
    const objects = athena.objects(bucket, prefix);
    const directories = [...new Set([prefix, ...objects.map((k) => k.slice(0, k.lastIndexOf('/') + 1))])];
    for (const directory of directories)
      requests.push(
        via({
          action: 's3:ListBucket',
          resource: `arn:aws:s3:::${bucket}`,
          context: { 's3:prefix': directory },
          origin: `S3 ListObjectsV2 of ${qualified}`,
        }),
      );
    for (const key of objects) {
      requests.push(
        via({
          action: 's3:GetObject',
          resource: `arn:aws:s3:::${bucket}/${key}`,
          context: {},
          origin: `S3 GetObject of ${qualified}`,
        }),
      );
      requests.push(...kmsVia('kms:Decrypt', env.bucketDefaultKey(bucket), bucket));
    }
  }
  const unload = /^\s*UNLOAD\s*\([\s\S]*\)\s*TO\s+'(s3:\/\/[^']+)'/i.exec(sql);
  if (unload) {
    const { bucket, prefix } = splitS3Uri(unload[1]!);
    requests.push(
      via({
        action: 's3:GetBucketLocation',
        resource: `arn:aws:s3:::${bucket}`,
        context: {},
        origin: 'S3 GetBucketLocation of the UNLOAD target',
      }),
    );
    requests.push(
      via({
        action: 's3:ListBucket',
        resource: `arn:aws:s3:::${bucket}`,
        context: { 's3:prefix': prefix },
        origin: 'S3 ListObjectsV2 of the UNLOAD target (must be empty)',
      }),
    );
    const written = athena.objects(bucket, prefix);
    if (written.length === 0) throw new Error(`${origin}: nothing under the UNLOAD target s3://${bucket}/${prefix}`);
    for (const key of written)
      requests.push(
        via({
          action: 's3:PutObject',
          resource: `arn:aws:s3:::${bucket}/${key}`,
          context: sseHeaders,
          origin: 'S3 PutObject of the UNLOAD output',
        }),
      );
    requests.push(...kmsVia('kms:GenerateDataKey', writeKey ?? env.bucketDefaultKey(bucket), bucket));
  }
  return requests;
}

function sqsQueueArn(env: RequestEnvironment, queueUrl: string): string {
  const [account, name] = new URL(queueUrl).pathname.split('/').filter(Boolean).slice(-2);
  return `arn:aws:sqs:${env.region}:${account ?? env.accountId}:${name ?? ''}`;
}

function sqsRequests(call: RecordedCall, env: RequestEnvironment, origin: string): AuthorizationRequest[] {
  const i = call.input;
  const batch: Record<string, string> = {
    SendMessageBatch: 'SendMessage',
    DeleteMessageBatch: 'DeleteMessage',
    ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
  };
  const known = [
    'SendMessage',
    'ReceiveMessage',
    'DeleteMessage',
    'ChangeMessageVisibility',
    'GetQueueAttributes',
    'PurgeQueue',
    ...Object.keys(batch),
  ];
  if (call.operation === 'GetQueueUrl') {
    return [
      {
        action: 'sqs:GetQueueUrl',
        resource: `arn:aws:sqs:${env.region}:${str(i.QueueOwnerAWSAccountId) ?? env.accountId}:${str(i.QueueName)}`,
        context: {},
        origin,
      },
    ];
  }
  if (!known.includes(call.operation))
    throw new Error(`${origin}: no IAM mapping for SQS ${call.operation} in iam-requests.ts`);
  return [
    {
      action: `sqs:${batch[call.operation] ?? call.operation}`,
      resource: sqsQueueArn(env, String(i.QueueUrl)),
      context: {},
      origin,
    },
  ];
}

function secretsRequests(call: RecordedCall, origin: string): AuthorizationRequest[] {
  if (call.operation !== 'GetSecretValue' && call.operation !== 'DescribeSecret')
    throw new Error(`${origin}: no IAM mapping for Secrets Manager ${call.operation} in iam-requests.ts`);
  const id = String(call.input.SecretId);
  if (!id.startsWith('arn:'))
    throw new Error(`${origin}: secret named by name (${id}), not ARN: its ARN is unknown here`);
  return [{ action: `secretsmanager:${call.operation}`, resource: id, context: {}, origin }];
}

/** PutEvents: one `events:PutEvents` per entry, on the entry's bus (by name or ARN; none is the default bus). */
function eventBridgeRequests(call: RecordedCall, env: RequestEnvironment, origin: string): AuthorizationRequest[] {
  if (call.operation !== 'PutEvents')
    throw new Error(`${origin}: no IAM mapping for EventBridge ${call.operation} in iam-requests.ts`);
  const entries = (call.input.Entries ?? []) as { EventBusName?: string }[];
  return entries.map((e) => {
    const bus = e.EventBusName ?? 'default';
    const resource = bus.startsWith('arn:') ? bus : `arn:aws:events:${env.region}:${env.accountId}:event-bus/${bus}`;
    return { action: 'events:PutEvents', resource, context: {}, origin };
  });
}

/** The authorization requests one recorded call stands for. `history` holds the calls before it (Athena's query → workgroup). */
export function authorizationRequests(
  call: RecordedCall,
  env: RequestEnvironment,
  history: readonly RecordedCall[] = [],
): AuthorizationRequest[] {
  const origin = describe(call);
  switch (call.service) {
    case 'S3':
      return s3Requests(call, env, origin);
    case 'Glue':
      return glueRequests(call, env, origin);
    case 'Athena':
      return athenaRequests(call, env, origin, history);
    case 'SQS':
      return sqsRequests(call, env, origin);
    case 'SecretsManager':
      return secretsRequests(call, origin);
    case 'EventBridge':
      return eventBridgeRequests(call, env, origin);
    default:
      throw new Error(`${origin}: no IAM mapping for the ${call.service} service in iam-requests.ts`);
  }
}
