// Runs the bundled handler once in a fresh Node process, like a cold Lambda container, and reports its
// peak resident memory. Plain JavaScript on purpose: no TypeScript loader in the process being measured.
// Usage: node invoke-child.mjs <request.json> <result.json>
//   request: { entryFile, exportName, env, event, timeoutMs }
import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const [requestPath, resultPath] = process.argv.slice(2);
const request = JSON.parse(readFileSync(requestPath, 'utf8'));
Object.assign(process.env, request.env);

const started = Date.now();
const deadline = started + request.timeoutMs;
const context = {
  functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
  functionVersion: '$LATEST',
  invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:child',
  memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
  awsRequestId: `child-${started}`,
  logGroupName: '/aws/lambda/child',
  logStreamName: 'child',
  callbackWaitsForEmptyEventLoop: false,
  getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  done() {},
  fail() {},
  succeed() {},
};

let response;
let error;
try {
  const module = await import(pathToFileURL(request.entryFile).href);
  response = await module[request.exportName](request.event, context);
} catch (e) {
  error = { name: e?.name, message: e?.message, stack: e?.stack };
}
writeFileSync(
  resultPath,
  JSON.stringify({
    response,
    error,
    durationMs: Date.now() - started,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }),
);
