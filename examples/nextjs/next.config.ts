import type { NextConfig } from 'next';

const nextConfig: NextConfig = {
  // Bull cannot be bundled: its sandboxed-processor pool forks a file of its own by path
  // (lib/process/master.js), which Turbopack refuses ("Module not found"). Kept external, it is
  // loaded from node_modules at run time, so it is a direct dependency of this app. Nothing else is
  // external or transpiled: @coldcopy/web and @coldcopy/queue-core ship ESM JavaScript (dist/).
  serverExternalPackages: ['bull'],
};

export default nextConfig;
