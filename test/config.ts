import { loadConfig, type Config, type Env } from '../src/config.ts';

export const TEST_SECRET = 'whsec_test_0123456789abcdef';
export const TEST_ADMIN_TOKEN = 'admin-token-0123456789abcdef';

export function testConfig(env: Env = {}, yamlText = ''): Config {
  const result = loadConfig(
    {
      PORT: '0',
      CAL_WEBHOOK_SECRET: TEST_SECRET,
      USHER_ADMIN_TOKEN: TEST_ADMIN_TOKEN,
      CAL_API_KEY: 'cal_test_key',
      CAL_API_URL: 'http://127.0.0.1:9',
      USHER_CONFIG: '/nonexistent/usher.config.yaml',
      ...env,
    },
    { yamlText },
  );
  if (!result.ok) throw new Error(result.faults.join('\n'));
  return result.config;
}
