// Fails at load time: the runtime must report Runtime.ImportModuleError.
'use strict';
require('nimbus-module-that-does-not-exist');

exports.handler = async (event) => event;
