import { appBuild } from '../../tsup.app.js';

// The build every app shares (tsup.app.ts at the repository root), plus @bull-board/*: the UI's
// static files and views are read from node_modules.
export default appBuild({ external: [/^@bull-board\//] });
