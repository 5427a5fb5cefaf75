// The integration tier's runner: jest's own, one test file after another (one emulator, shared by every file).
const { default: TestRunner } = require('jest-runner');

class SerialRunner extends TestRunner {
  get isSerial() {
    return true;
  }
}

module.exports = SerialRunner;
