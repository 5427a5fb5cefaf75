import { Aws, Names } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lakeformation from 'aws-cdk-lib/aws-lakeformation';
import { Construct, type IConstruct } from 'constructs';
import type { LakeCatalog } from '../catalog/lake-catalog.ts';
import type { CatalogZone } from '../catalog/table-spec.ts';

/** Lake Formation table permissions this lake grants. */
export type TablePermission = 'SELECT' | 'INSERT' | 'DELETE' | 'ALTER' | 'DESCRIBE';

export interface LakeFormationOptions {
  /**
   * Lake Formation data lake administrators (IAM role or user ARNs), **added** to the account's
   * (`MutationType: APPEND`). Include the role CloudFormation deploys with (the CDK bootstrap's
   * `cdk-…-cfn-exec-role-…`) wherever Lake Formation already governs the catalog: granting needs an admin.
   */
  readonly admins: readonly string[];
  /**
   * Register the zone locations in hybrid access mode: principals keep their IAM and S3 permissions until
   * they are opted in to Lake Formation, so turning this on breaks no running workload.
   * @default true
   */
  readonly hybridAccessMode?: boolean;
}

export interface LakeFormationGovernanceProps extends LakeFormationOptions {
  readonly catalog: LakeCatalog;
  /** The key the registered locations are encrypted with: Lake Formation's data-access role must use it. */
  readonly encryptionKey: kms.IKey;
}

/** The service-linked role Lake Formation reads and writes registered locations with. */
const LAKE_FORMATION_DATA_ACCESS_ROLE =
  'aws-service-role/lakeformation.amazonaws.com/AWSServiceRoleForLakeFormationDataAccess';

/**
 * Lake Formation over the lake's catalog (opt-in): adds data lake administrators, registers the silver, gold
 * and quarantine bucket locations (service-linked role, hybrid access mode by default), and grants
 * principals their database, table and data-location permissions with `AWS::LakeFormation::PrincipalPermissions`.
 */
export class LakeFormationGovernance extends Construct {
  readonly settings: lakeformation.CfnDataLakeSettings;
  readonly locations: Readonly<Record<CatalogZone, lakeformation.CfnResource>>;
  private readonly catalog: LakeCatalog;
  /** Permissions granted so far, by construct id: granting the same again is a no-op. */
  private readonly granted = new Map<string, string>();

  constructor(scope: Construct, id: string, props: LakeFormationGovernanceProps) {
    super(scope, id);
    if (props.admins.length === 0)
      throw new Error(
        'lakeFormation.admins: at least one administrator ARN is needed (granting permissions needs one)',
      );
    for (const arn of props.admins) {
      if (!/^arn:aws[a-z-]*:iam::\d{12}:(role|user)\/.+$/.test(arn))
        throw new Error(`lakeFormation.admins: ${JSON.stringify(arn)} is not an IAM role or user ARN`);
    }
    this.catalog = props.catalog;
    this.settings = new lakeformation.CfnDataLakeSettings(this, 'Settings', {
      admins: props.admins.map((arn) => ({ dataLakePrincipalIdentifier: arn })),
      mutationType: 'APPEND',
    });
    const location = (zone: CatalogZone): lakeformation.CfnResource =>
      new lakeformation.CfnResource(this, `${zone.charAt(0).toUpperCase()}${zone.slice(1)}Location`, {
        resourceArn: props.catalog.bucket(zone).bucketArn,
        useServiceLinkedRole: true,
        hybridAccessEnabled: props.hybridAccessMode ?? true,
      });
    this.locations = { silver: location('silver'), gold: location('gold'), quarantine: location('quarantine') };
    // Credential vending reads SSE-KMS objects as that role: it needs the lake key. Named by `aws:PrincipalArn`
    // (KMS does not check a condition's value), so the statement deploys before the role exists.
    props.encryptionKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'LakeFormationDataAccessUsesTheKey',
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
        resources: ['*'],
        conditions: {
          ArnEquals: {
            'aws:PrincipalArn': `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/${LAKE_FORMATION_DATA_ACCESS_ROLE}`,
          },
          StringEquals: { 'kms:CallerAccount': Aws.ACCOUNT_ID },
        },
      }),
    );
  }

  /**
   * Grants a principal `DESCRIBE` on a zone's database and `permissions` on its tables: every table (now and
   * later, `TableWildcard`) or the named ones.
   */
  grantTables(
    principal: iam.IPrincipal,
    zone: CatalogZone,
    permissions: readonly TablePermission[],
    tableNames?: readonly string[],
  ): void {
    const identifier = principalArn(principal);
    const database = this.catalog.databaseNames[zone];
    this.grant(
      principal,
      identifier,
      `${zone}-database`,
      ['DESCRIBE'],
      { database: { catalogId: Aws.ACCOUNT_ID, name: database } },
      this.catalog.databases[zone],
    );
    const tables = tableNames ?? [undefined];
    for (const name of tables) {
      const table =
        name === undefined
          ? { catalogId: Aws.ACCOUNT_ID, databaseName: database, tableWildcard: {} }
          : { catalogId: Aws.ACCOUNT_ID, databaseName: database, name };
      const dependency = name === undefined ? this.catalog.databases[zone] : this.catalog.table(zone, name);
      if (!dependency) throw new Error(`no ${zone} table ${name} in the catalog`);
      this.grant(principal, identifier, `${zone}-${name ?? 'all-tables'}`, [...permissions], { table }, dependency);
    }
  }

  /** Grants a principal `DATA_LOCATION_ACCESS` on a zone's registered location (to create partitions pointing there). */
  grantDataLocation(principal: iam.IPrincipal, zone: CatalogZone): void {
    const location = this.locations[zone];
    this.grant(
      principal,
      principalArn(principal),
      `${zone}-location`,
      ['DATA_LOCATION_ACCESS'],
      { dataLocation: { catalogId: Aws.ACCOUNT_ID, resourceArn: location.resourceArn } },
      location,
    );
  }

  private grant(
    principal: iam.IPrincipal,
    identifier: string,
    what: string,
    permissions: string[],
    resource: lakeformation.CfnPrincipalPermissions.ResourceProperty,
    dependsOn: IConstruct,
  ): void {
    const owner = Construct.isConstruct(principal)
      ? Names.uniqueId(principal)
      : identifier.replace(/[^A-Za-z0-9]/g, '');
    const id = `${owner}-${what}`;
    const wanted = [...permissions].sort().join(',');
    const existing = this.granted.get(id);
    if (existing === wanted) return;
    if (existing !== undefined)
      throw new Error(
        `Lake Formation ${what}: ${identifier} already holds ${existing}; cannot also grant ${wanted} separately`,
      );
    this.granted.set(id, wanted);
    const granted = new lakeformation.CfnPrincipalPermissions(this, id, {
      catalog: Aws.ACCOUNT_ID,
      principal: { dataLakePrincipalIdentifier: identifier },
      resource,
      permissions: [...permissions].sort(),
      permissionsWithGrantOption: [],
    });
    // Granting needs the administrators in place, and the database, table or location to exist.
    granted.node.addDependency(this.settings, dependsOn);
  }
}

/** The ARN Lake Formation identifies a principal by: a role's, a user's, or an `ArnPrincipal`'s. */
function principalArn(principal: iam.IPrincipal): string {
  if (principal instanceof iam.Role || principal instanceof iam.User)
    return principal instanceof iam.Role ? principal.roleArn : principal.userArn;
  if (principal instanceof iam.ArnPrincipal) return principal.arn;
  const role = principal as Partial<iam.IRole>;
  if (typeof role.roleArn === 'string') return role.roleArn;
  throw new Error('Lake Formation permissions can be granted to IAM roles, users and ArnPrincipals only');
}
