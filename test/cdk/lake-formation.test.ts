import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataLake } from '../../lib/data-lake.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import {
  logicalId,
  removeSynthOutputs,
  skipBuiltinTemplateValidation,
  synthLake,
  testApp,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

const ADMIN = 'arn:aws:iam::111122223333:role/cdk-hnb659fds-cfn-exec-role-111122223333-eu-west-1';
const ANALYST = 'arn:aws:iam::111122223333:role/Analyst';

let stack: MedallionLakeStack;
let template: Template;

beforeAll(() => {
  ({ stack, template } = synthLake({
    context: { stage: 'prod', lakeFormationAdmins: ADMIN, analystPrincipals: ANALYST },
  }));
});
afterAll(removeSynthOutputs);

type Resource = { Properties: Record<string, unknown>; DependsOn?: string[] };
const ofType = (t: Template, type: string) => Object.values(t.findResources(type)) as Resource[];
const getAtt = (construct: Parameters<typeof logicalId>[0]) => ({ 'Fn::GetAtt': [logicalId(construct), 'Arn'] });
const account = { Ref: 'AWS::AccountId' };

/** Every Lake Formation grant as `principal logical id: permissions on resource`. */
function grants(t: Template): string[] {
  return ofType(t, 'AWS::LakeFormation::PrincipalPermissions').map(({ Properties: p }) => {
    const principal = ((p.Principal as { DataLakePrincipalIdentifier: { 'Fn::GetAtt': string[] } })
      .DataLakePrincipalIdentifier['Fn::GetAtt'] ?? [])[0];
    const resource = p.Resource as {
      Database?: { Name: string };
      Table?: { DatabaseName: string; Name?: string };
      DataLocation?: { ResourceArn: { 'Fn::GetAtt': string[] } };
    };
    const on = resource.Database
      ? `database ${resource.Database.Name}`
      : resource.Table
        ? `table ${resource.Table.DatabaseName}.${resource.Table.Name ?? '*'}`
        : `location ${resource.DataLocation?.ResourceArn['Fn::GetAtt'][0]}`;
    return `${principal}: ${(p.Permissions as string[]).join(',')} on ${on}`;
  });
}

describe('lakeFormation option', () => {
  it('adds the administrators to the account’s (APPEND, not replacing them)', () => {
    expect(ofType(template, 'AWS::LakeFormation::DataLakeSettings').map((r) => r.Properties)).toEqual([
      { Admins: [{ DataLakePrincipalIdentifier: ADMIN }], MutationType: 'APPEND' },
    ]);
  });

  it('registers the silver, gold and quarantine buckets in hybrid access mode with the service-linked role', () => {
    const { storage } = stack.lake;
    expect(ofType(template, 'AWS::LakeFormation::Resource').map((r) => r.Properties)).toEqual(
      (['silver', 'gold', 'quarantine'] as const).map((zone) => ({
        ResourceArn: getAtt(storage.bucket(zone)),
        UseServiceLinkedRole: true,
        HybridAccessEnabled: true,
      })),
    );
  });

  it('lets Lake Formation’s data-access role use the lake key (credential vending reads SSE-KMS objects), and no other principal through that statement', () => {
    const keyPolicy = (Object.values(template.findResources('AWS::KMS::Key'))[0] as Resource).Properties.KeyPolicy as {
      Statement: Array<Record<string, unknown>>;
    };
    const statement = keyPolicy.Statement.find((s) => s.Sid === 'LakeFormationDataAccessUsesTheKey');
    expect(statement).toMatchObject({
      Effect: 'Allow',
      Principal: { AWS: '*' },
      Action: ['kms:Decrypt', 'kms:DescribeKey', 'kms:GenerateDataKey'],
      Condition: {
        ArnEquals: {
          'aws:PrincipalArn': {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':iam::',
                account,
                ':role/aws-service-role/lakeformation.amazonaws.com/AWSServiceRoleForLakeFormationDataAccess',
              ],
            ],
          },
        },
        StringEquals: { 'kms:CallerAccount': account },
      },
    });
  });

  it('grants each role exactly its catalog permissions through Lake Formation', () => {
    const ingest = logicalId(
      stack.lake.ingestion.function.role as NonNullable<typeof stack.lake.ingestion.function.role>,
    );
    const refresh = logicalId(
      stack.lake.goldRefresh?.function.role as NonNullable<typeof stack.lake.ingestion.function.role>,
    );
    const analysts = logicalId(stack.analystsRole as NonNullable<typeof stack.analystsRole>);
    const [silver, gold] = [
      logicalId(stack.lake.storage.bucket('silver')),
      logicalId(stack.lake.storage.bucket('gold')),
    ];
    expect(grants(template).sort()).toEqual(
      [
        `${ingest}: DESCRIBE on database medallion_prod_silver`,
        `${ingest}: DESCRIBE,INSERT on table medallion_prod_silver.transactions`,
        `${ingest}: DATA_LOCATION_ACCESS on location ${silver}`,
        `${refresh}: DESCRIBE on database medallion_prod_silver`,
        `${refresh}: DESCRIBE,SELECT on table medallion_prod_silver.transactions`,
        `${refresh}: DESCRIBE on database medallion_prod_gold`,
        `${refresh}: ALTER,DELETE,DESCRIBE,INSERT,SELECT on table medallion_prod_gold.account_monthly_balance`,
        `${refresh}: DATA_LOCATION_ACCESS on location ${gold}`,
        `${analysts}: DESCRIBE on database medallion_prod_silver`,
        `${analysts}: DESCRIBE,SELECT on table medallion_prod_silver.*`,
        `${analysts}: DESCRIBE on database medallion_prod_gold`,
        `${analysts}: DESCRIBE,SELECT on table medallion_prod_gold.*`,
      ].sort(),
    );
    // Nobody is granted anything on quarantine but through grantPlatformAccess, and nothing with grant option.
    expect(grants(template).filter((g) => g.includes('quarantine'))).toEqual([]);
    for (const r of ofType(template, 'AWS::LakeFormation::PrincipalPermissions')) {
      expect(r.Properties).toMatchObject({ Catalog: account, PermissionsWithGrantOption: [] });
    }
  });

  it('grants only after the administrators are set and the database, table or location exists', () => {
    const settings = logicalId(
      stack.lake.lakeFormation?.settings as NonNullable<typeof stack.lake.lakeFormation>['settings'],
    );
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    for (const r of ofType(template, 'AWS::LakeFormation::PrincipalPermissions')) {
      expect(r.DependsOn).toContain(settings);
      const others = (r.DependsOn ?? []).filter((d) => d !== settings).map((d) => resources[d]?.Type);
      expect(others).toHaveLength(1);
      expect(['AWS::Glue::Database', 'AWS::Glue::Table', 'AWS::LakeFormation::Resource']).toContain(others[0]);
    }
  });

  it('gives platform grantees every zone, quarantine included', () => {
    const lakeStack = new Stack(testApp(), 'Platform');
    const lake = new DataLake(lakeStack, 'Lake', { lakeFormation: { admins: [ADMIN] } });
    const role = new iam.Role(lakeStack, 'Platform', {
      assumedBy: new iam.ArnPrincipal('arn:aws:iam::111122223333:role/Operator'),
    });
    lake.grantPlatformAccess(role);
    lake.grantAnalystAccess(role); // overlapping grants are merged, not duplicated
    const held = grants(Template.fromStack(lakeStack)).filter((g) => g.startsWith(logicalId(role)));
    expect(held.filter((g) => g.includes('on table'))).toEqual(
      ['medallion_silver', 'medallion_gold', 'medallion_quarantine'].map(
        (db) => `${logicalId(role)}: DESCRIBE,SELECT on table ${db}.*`,
      ),
    );
  });

  it('is off by default: no Lake Formation resource at all', () => {
    for (const stage of ['dev', 'prod']) {
      const { template: plain } = synthLake({ context: { stage } });
      expect(
        Object.values(plain.toJSON().Resources as Record<string, { Type: string }>).filter((r) =>
          r.Type.startsWith('AWS::LakeFormation::'),
        ),
      ).toEqual([]);
    }
  });

  it('refuses an empty or malformed administrator list', () => {
    expect(() => new DataLake(new Stack(testApp(), 'NoAdmins'), 'Lake', { lakeFormation: { admins: [] } })).toThrow(
      /at least one administrator/,
    );
    expect(
      () => new DataLake(new Stack(testApp(), 'BadAdmin'), 'Lake', { lakeFormation: { admins: ['admin'] } }),
    ).toThrow(/not an IAM role or user ARN/);
  });
});
