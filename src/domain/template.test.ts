import { describe, expect, it } from 'vitest';
import { isKnownPath, renderJson, renderText, templatePaths } from './template.ts';

const context = {
  attendee: { name: 'Zoë "Zed" O\'Brien\nline two', email: 'zoe@example.com' },
  booking: { id: 42, metadata: { plan: 'gold' } },
  nothing: null,
};

describe('automation templates', () => {
  it('renders JSON with every value escaped by the serialiser: quotes, newlines, unicode', () => {
    const body = renderJson(
      {
        name: '{{attendee.name}}',
        greeting: 'Hi {{attendee.name}} 👋',
        id: '{{booking.id}}',
        plan: '{{ booking.metadata.plan }}',
        gone: '{{nothing}}',
        missing: '{{booking.none}}',
        list: ['{{booking.id}}'],
      },
      context,
    );
    const text = JSON.stringify(body);
    expect(JSON.parse(text)).toEqual({
      name: 'Zoë "Zed" O\'Brien\nline two',
      greeting: 'Hi Zoë "Zed" O\'Brien\nline two 👋',
      id: 42,
      plan: 'gold',
      gone: null,
      missing: null,
      list: [42],
    });
    expect(text).toContain('\\"Zed\\"');
    expect(text).toContain('\\n');
  });

  it('never evaluates anything: expressions are not placeholders and stay as text', () => {
    expect(renderText('{{ process.exit() }} {{constructor.constructor}} {{attendee.email}}', context)).toBe(
      '{{ process.exit() }}  zoe@example.com',
    );
    expect(templatePaths('{{ process.exit() }}').malformed).toEqual(['{{ process.exit() }}']);
  });

  it('encodes values for URLs when asked, and finds every path in a template', () => {
    expect(renderText('https://crm.example/c?e={{attendee.email}}&n={{attendee.name}}', context, encodeURIComponent)).toBe(
      `https://crm.example/c?e=zoe%40example.com&n=${encodeURIComponent(context.attendee.name)}`,
    );
    expect(templatePaths({ a: ['{{x.y}} and {{z}}'], '{{k}}': 1 }).paths.sort()).toEqual(['k', 'x.y', 'z']);
    expect(isKnownPath('booking.metadata.plan', ['booking.metadata.*'])).toBe(true);
    expect(isKnownPath('booking.metadata', ['booking.metadata.*'])).toBe(false);
    expect(isKnownPath('booking.titel', ['booking.title'])).toBe(false);
  });
});
