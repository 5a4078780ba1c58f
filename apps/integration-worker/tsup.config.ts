import { appBuild } from '../../tsup.app.js';

// The build every app shares: tsup.app.ts at the repository root.
export default appBuild();
