/** `lakeTarget`: the options name one lake, local or deployed; the actions ask it instead of branching. */
import { describe, expect, it } from '@jest/globals';
import { AwsTarget } from '../../../cli/aws/target.ts';
import { UserError } from '../../../cli/errors.ts';
import { LocalTarget } from '../../../cli/local/target.ts';
import { lakeTarget } from '../../../cli/target.ts';

describe('lakeTarget', () => {
  it('is the deployed lake with --aws and a stack, named again by those flags', () => {
    const target = lakeTarget({ aws: true, stack: 'lake-dev' });
    expect(target).toBeInstanceOf(AwsTarget);
    expect(target.flag()).toBe(' --aws --stack lake-dev');
    expect(target.runningLabel).toBe('running on Athena');
    expect(target.quarantineTables('transactions')).toEqual(['transactions']);
    expect(target.quarantineTables(undefined)).toEqual(target.contracts().names());
    expect(target.quarantineLocation('transactions/files/x/a.csv')).toBe(
      'quarantine bucket: transactions/files/x/a.csv',
    );
  });

  it('is the local lake otherwise, opened only when asked (a missing lake is a UserError then)', () => {
    const target = lakeTarget({ lake: '/nonexistent/lake-dir' });
    expect(target).toBeInstanceOf(LocalTarget);
    expect(target.runningLabel).toBe('running');
    expect(() => target.contracts()).toThrow(UserError);
  });

  it('refuses --aws without a stack, as before', () => {
    expect(() => lakeTarget({ aws: true })).toThrow(/--aws needs the stack name/);
  });
});
