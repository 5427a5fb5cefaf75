import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import { Construct } from 'constructs';
import { type DatabaseNames, glueViewInput, type GoldView } from '../../engine/gold/index.ts';

export interface LakeViewProps {
  readonly database: glue.IDatabase;
  readonly view: GoldView;
  /** Real database names, substituted for the `silver.` / `gold.` / `quarantine.` qualifiers of the view SQL. */
  readonly databaseNames: DatabaseNames;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * An Athena view stored in Glue the way Athena itself stores one: a `VIRTUAL_VIEW` table whose
 * `ViewOriginalText` carries the base64 Presto/Trino view definition.
 */
export class LakeView extends Construct {
  readonly viewName: string;
  /** ARN of the Glue table that holds the view (what `glue:GetTable` grants name). */
  readonly tableArn: string;

  constructor(scope: Construct, id: string, props: LakeViewProps) {
    super(scope, id);
    const input = glueViewInput(props.view, props.databaseNames);
    this.viewName = input.Name;
    const table = new glue.CfnTable(this, 'Resource', {
      catalogId: props.database.catalog.catalogId,
      databaseName: props.database.databaseName,
      tableInput: {
        name: input.Name,
        tableType: input.TableType,
        parameters: input.Parameters,
        viewOriginalText: input.ViewOriginalText,
        viewExpandedText: input.ViewExpandedText,
        storageDescriptor: {
          columns: input.StorageDescriptor.Columns.map((c) => ({ name: c.Name, type: c.Type, comment: c.Comment })),
          serdeInfo: {},
        },
      },
    });
    table.applyRemovalPolicy(props.removalPolicy ?? RemovalPolicy.RETAIN);
    this.tableArn = Stack.of(this).formatArn({
      service: 'glue',
      resource: 'table',
      resourceName: `${props.database.databaseName}/${input.Name}`,
    });
  }
}
