// The integration tier's runner: jest's own, one test file after another (one emulator, shared by every file).
import TestRunner from 'jest-runner';

export default class SerialRunner extends TestRunner {
  constructor(globalConfig, context, options) {
    super(globalConfig, context, options);
    this.isSerial = true;
  }
}
