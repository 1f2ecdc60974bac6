import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const manifest = parse(readFileSync(new URL('../../manifest.yml', import.meta.url), 'utf8')) as {
  _metadata: { major_version: number };
  display_information: { name: string; description?: string };
  features: {
    bot_user: { display_name: string };
    slash_commands: { command: string; url: string; description: string; usage_hint: string }[];
    shortcuts: { name: string; type: string; callback_id: string; description: string }[];
  };
  oauth_config: { scopes: { bot: string[]; user?: string[] } };
  settings: { interactivity: { is_enabled: boolean; request_url: string }; socket_mode_enabled: boolean };
};

describe('the Slack app manifest', () => {
  it('is a version 1 or 2 manifest with a name and a bot user', () => {
    expect([1, 2]).toContain(manifest._metadata.major_version);
    expect(manifest.display_information.name).toBeTruthy();
    expect(manifest.features.bot_user.display_name).toBe('aegis');
  });

  it('declares /aegis with a usage hint and a description, posting to /slack/events', () => {
    expect(manifest.features.slash_commands).toHaveLength(1);
    const [aegis] = manifest.features.slash_commands;
    expect(aegis?.command).toBe('/aegis');
    expect(aegis?.url).toBe('https://aegis-bot.example.com/slack/events');
    expect(aegis?.usage_hint).toContain('help');
    expect(aegis?.description.length).toBeGreaterThan(0);
    expect(aegis?.description.length).toBeLessThanOrEqual(100);
  });

  it('declares the "Page on-call about this" message shortcut', () => {
    expect(manifest.features.shortcuts).toEqual([
      expect.objectContaining({
        name: 'Page on-call about this',
        type: 'message',
        callback_id: 'page_oncall',
      }),
    ]);
  });

  it('turns interactivity on at the same endpoint, and HTTP mode by default', () => {
    expect(manifest.settings.interactivity).toEqual({
      is_enabled: true,
      request_url: 'https://aegis-bot.example.com/slack/events',
    });
    expect(manifest.settings.socket_mode_enabled).toBe(false);
  });

  it('asks for exactly the bot scopes the bot uses, and no user scopes', () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(
      ['chat:write', 'commands', 'files:write', 'usergroups:read', 'users:read'].sort(),
    );
    expect(manifest.oauth_config.scopes.user).toBeUndefined();
  });
});
