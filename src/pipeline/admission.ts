import type { QuotaAdmission } from '../auth/index.js';
import type { ProviderType } from '../core-config/index.js';
import { GatewayError } from '../errors/index.js';
import type { PriceBook } from '../pricing/index.js';
import type { Admission, PipelineDeps } from './pipeline.js';

export interface PricedAdmissionOptions {
  quotas: Pick<QuotaAdmission, 'reserve' | 'admitsWithoutLimits'>;
  priceBook: PriceBook;
  /** The type of a local provider by id (a peer's price is looked up by model name alone). */
  providerType: (providerId: string | undefined) => ProviderType | undefined;
  /** A request refused by a limit (429), with the limit's code (metrics). */
  onQuotaRefused?: (code: string) => void;
}

/** The admission of a request that no limit applies to: no headers, nothing to settle or release. */
const NOTHING_RESERVED: Admission = Object.freeze({ headers: Object.freeze({}) as Record<string, string>, settle: () => undefined, release: () => undefined });

/**
 * The pipeline's admit step: model permission and a quota reservation sized by the request's estimate and its
 * estimated cost, settled with the real usage priced for the provider that served it. A principal that no limit
 * applies to (a public node's clients, a key without quotas) is admitted at once, without pricing the estimate or
 * waiting on a promise: nothing would be counted.
 */
export function pricedAdmission(options: PricedAdmissionOptions): NonNullable<PipelineDeps['admit']> {
  const { quotas } = options;
  const reserve = reservation(options);
  return (req, estimate) => {
    let unlimited: boolean;
    try {
      unlimited = quotas.admitsWithoutLimits(req.principal, req.model);
    } catch (err) {
      return Promise.reject(err);
    }
    return unlimited ? NOTHING_RESERVED : reserve(req, estimate);
  };
}

function reservation(options: PricedAdmissionOptions): (...args: Parameters<NonNullable<PipelineDeps['admit']>>) => Promise<Admission> {
  const { quotas, priceBook } = options;
  return async (req, estimate): Promise<Admission> => {
    const estimatedCost = priceBook.costOf({ model: req.model, usage: { inputTokens: estimate.inputTokens, outputTokens: estimate.maxOutputTokens } });
    let reservation;
    try {
      reservation = await quotas.reserve(req.principal, {
        requestId: req.id,
        ip: req.ip,
        model: req.model,
        estimatedTokens: estimate.inputTokens + estimate.maxOutputTokens,
        estimatedCostMicros: estimatedCost.costMicros ?? 0,
        priced: estimatedCost.priced,
        format: req.format,
        operation: req.operation,
        stream: req.stream,
      });
    } catch (err) {
      if (err instanceof GatewayError && err.status === 429) options.onQuotaRefused?.(err.code);
      throw err;
    }
    return {
      headers: reservation.headers,
      settle: (outcome) => {
        const usage = outcome.usage ?? { inputTokens: 0, outputTokens: 0 };
        const cost = priceBook.costOf({ providerType: options.providerType(outcome.provider), model: outcome.model ?? outcome.requestedModel, usage });
        return reservation.settle({
          tokens: usage.inputTokens + usage.outputTokens,
          costMicros: cost.costMicros ?? undefined,
          served: {
            model: outcome.model ?? outcome.requestedModel, input: usage.inputTokens, output: usage.outputTokens, cached: usage.cachedInputTokens ?? 0, status: outcome.status,
            ...(outcome.peer ? { peer: outcome.peer } : {}),
          },
        });
      },
      release: () => reservation.release(),
    };
  };
}
