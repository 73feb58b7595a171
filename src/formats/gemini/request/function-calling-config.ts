import type { ToolChoice } from '../../canonical.js';
import type { GeminiToolConfig } from './schema.js';

/**
 * Tool choice ⇄ `toolConfig.functionCallingConfig` (https://ai.google.dev/api/caching#FunctionCallingConfig).
 * ANY forces a call, restricted to `allowedFunctionNames` when given; VALIDATED lets the model choose like AUTO
 * (it only adds schema-constrained decoding), so it maps to auto.
 */

type CallingConfig = NonNullable<GeminiToolConfig['functionCallingConfig']>;

const ALLOWED_NAMES = 'toolConfig.functionCallingConfig.allowedFunctionNames';

export function toolChoiceFromGemini(config: CallingConfig | undefined, warnings: string[]): ToolChoice | undefined {
  switch (config?.mode) {
    case 'AUTO':
    case 'VALIDATED':
      return { type: 'auto' };
    case 'NONE':
      return { type: 'none' };
    case 'ANY': {
      const names = config.allowedFunctionNames ?? [];
      if (names.length === 1) return { type: 'tool', name: names[0]! };
      // A choice among several named tools has no canonical form: any tool may be called.
      if (names.length > 1) warnings.push(ALLOWED_NAMES);
      return { type: 'required' };
    }
    default:
      return undefined;
  }
}

const MODE_OF_CHOICE: Record<ToolChoice['type'], string> = { auto: 'AUTO', none: 'NONE', required: 'ANY', tool: 'ANY' };

export function toolChoiceToGemini(choice: ToolChoice): { functionCallingConfig: Record<string, unknown> } {
  return {
    functionCallingConfig: { mode: MODE_OF_CHOICE[choice.type], ...(choice.type === 'tool' ? { allowedFunctionNames: [choice.name] } : {}) },
  };
}
