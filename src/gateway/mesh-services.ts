import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/index.js';
import { PerPeerRate, usdToMicros } from '../core/index.js';
import {
  AckBatcher, CreditReservations, LEDGER_PROTOCOL, Ledger, RECEIPT_JOURNAL_DIR, ReceiptJournal, LedgerReconciler, ledgerMessageHandler, ReceiptSettler, signingKeyFromRaw, type AdvertisedPrice, type LedgerTransport,
} from '../ledger/index.js';
import type { AccessControl } from '../auth/index.js';
import type { Federation } from '../federation/index.js';
import { MeshNode, meshConfigWarnings, type Advertisement, type ModelAdvert } from '../mesh/index.js';
import type { PeerForwarder } from '../pipeline/peer-attempt.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { PriceBook } from '../pricing/index.js';
import type { ModelCatalog } from '../router/model-catalog.js';
import type { Store } from '../store/index.js';
import { VERSION } from '../version.js';
import { forwardHandler, peerForwarder, receiptPrice } from './mesh-bridge.js';

const withGatewayRecord = (gateway: string | undefined) => (gateway ? { gateway } : {});

function creditLimitMicrosOf(config: Config): number | undefined {
  const limit = config.mesh.credit_limit_usd;
  return limit === undefined ? undefined : usdToMicros(limit);
}

export interface MeshServicesOptions {
  config: Config;
  store: Store;
  logger: Logger;
  priceBook: PriceBook;
  /** This gateway's access control: reservations for its own tokens are made with it (federation). */
  access?: AccessControl;
  /** Federated access (trusted gateways' tokens, reservations for this gateway's own). */
  federation?: Federation;
}

/** What this node serves to peers: its local models (never what it would have to forward) and its capacity. */
export interface ServedModels {
  catalog: ModelCatalog;
  pipeline: Pipeline;
}

/** How often capacity is re-reported; the advertiser republishes only on model or large capacity changes. */
const ADVERTISE_INTERVAL_MS = 1_000;

/** A model's price as receipts charge it: what this node advertises to peers. */
export function advertisedPrice(priceBook: PriceBook, model: string): ModelAdvert['price'] | undefined {
  const price = priceBook.priceFor(model);
  return price && { inputPerMTok: price.inputPerMTok, outputPerMTok: price.outputPerMTok, ...(price.cachedInputPerMTok !== undefined ? { cachedInputPerMTok: price.cachedInputPerMTok } : {}) };
}

/** Ledger messages to a peer over the mesh's `/meshgate/ledger/1.0.0` streams. */
export function ledgerTransportOver(mesh: MeshNode): LedgerTransport {
  return { request: (peerId, message) => mesh.sendMessage(peerId, LEDGER_PROTOCOL, message) };
}

/** What a peer advertises for a model now, in receipt units; undefined when its record does not list the model. */
function advertisedPriceOf(mesh: MeshNode): AdvertisedPrice {
  return (peerId, model) => {
    const advert = mesh.advertisedModel(peerId, model);
    return advert && receiptPrice(advert.price);
  };
}

/**
 * The mesh side of a node: the libp2p node, the ledger of receipts, acknowledgements and reconciliation, and the
 * pipeline's view of the peers. Built before the pipeline (which is given `forwarder`), started once the pipeline
 * exists (forwarded requests run through it), stopped after the HTTP server drained.
 */
export class MeshServices {
  /** The pipeline's peers; forwards nothing once the services stop. */
  readonly forwarder: PeerForwarder;
  private advertiseTimer?: NodeJS.Timeout;
  private stopped = false;
  /** This node's settlement of the receipts peers send it (forwarded work and federated work alike). */
  private readonly receipts: ReceiptSettler;

  private constructor(
    readonly mesh: MeshNode,
    readonly ledger: Ledger,
    readonly reconciler: LedgerReconciler,
    private readonly acks: AckBatcher,
    private readonly options: MeshServicesOptions,
  ) {
    const { mesh: meshConfig } = options.config;
    this.receipts = new ReceiptSettler({ ledger, acks, transport: ledgerTransportOver(mesh), priceOf: advertisedPriceOf(mesh), logger: options.logger });
    const forwarder = peerForwarder(mesh, {
      forward: meshConfig.forward, maxHops: meshConfig.max_hops, lookupTimeoutMs: meshConfig.dht_timeout_ms,
      receipts: this.receipts, logger: options.logger,
    });
    this.forwarder = { ...forwarder, canForward: (req) => !this.stopped && forwarder.canForward(req) };
  }

  static async create(options: MeshServicesOptions): Promise<MeshServices> {
    const { config, store, logger } = options;
    const mesh = await MeshNode.create({ config: config.mesh, dataDir: config.storage.dir, version: VERSION, logger });
    const creditLimitMicros = creditLimitMicrosOf(config);
    // Receipts this node issues are journaled before their trailer leaves (protocol/receipts.md, "Transport").
    const journal = await ReceiptJournal.open(join(store.dir, RECEIPT_JOURNAL_DIR));
    const ledger = Ledger.open(store, mesh.peerId, signingKeyFromRaw(mesh.privateKeyBytes), { journal, ...(creditLimitMicros === undefined ? {} : { creditLimitMicros }) });
    const replay = await ledger.recovered();
    if (replay.replayed > 0) logger.warn({ receipts: replay.replayed }, 'mesh: receipts issued before the last stop were only in the receipt journal; written to the ledger now');
    for (const problem of replay.problems) logger.error({ problem }, 'mesh: a receipt journal entry was not replayed');
    for (const warning of meshConfigWarnings(config.mesh)) logger.warn(warning);
    const transport = ledgerTransportOver(mesh);
    const reconciler = new LedgerReconciler(transport, ledger, logger, {
      intervalMs: config.mesh.reconcile_interval_seconds * 1000,
      peerSeen: (listener) => mesh.onPeerRecord((record) => record.withdrawn || listener(record.peerId)),
      priceOf: advertisedPriceOf(mesh),
    });
    return new MeshServices(mesh, ledger, reconciler, new AckBatcher(transport, logger), options);
  }

  /**
   * Serves forwarded requests through `served.pipeline`, advertises the local models (with prices) and spare
   * capacity, answers ledger messages, then starts the libp2p node and reconciliation.
   */
  async start(served: ServedModels): Promise<void> {
    const { mesh, ledger, options } = this;
    const { priceBook, logger } = options;
    // What a peer owes counts its work in flight too: each forward reserves its estimated cost until its receipt.
    const credit = new CreditReservations((peer) => ledger.unacknowledged(peer), creditLimitMicrosOf(options.config));
    mesh.setForwardHandler(forwardHandler(served.pipeline, { logger, ledger, credit, priceOf: (model) => advertisedPrice(priceBook, model) }));
    await this.attachFederation(credit);
    const advertisement = (): Advertisement => ({
      models: served.catalog.list().map(({ id }) => {
        const price = advertisedPrice(priceBook, id);
        const context = priceBook.priceFor(id)?.contextWindow;
        return { id, capabilities: ['chat'], ...(context ? { contextLength: context } : {}), ...(price ? { price } : {}) };
      }),
      capacity: { maxConcurrent: options.config.server.max_concurrent, inFlight: served.pipeline.load },
      ...withGatewayRecord(options.federation?.gatewayRecord()),
    });
    mesh.setAdvertisement(advertisement());
    // Before start: a peer that sees this node's record may ask for reconciliation at once.
    const rate = new PerPeerRate(options.config.mesh.ledger_messages_per_second);
    await mesh.handleMessages(LEDGER_PROTOCOL, ledgerMessageHandler(ledger), (peerId) =>
      rate.admit(peerId) ? undefined : `rate limited: more than ${rate.rate} ledger messages per second from this peer; try again later`);
    await mesh.start();
    this.reconciler.start();
    this.advertiseTimer = setInterval(() => mesh.setAdvertisement(advertisement()), ADVERTISE_INTERVAL_MS);
    this.advertiseTimer.unref();
  }

  /**
   * Federation over this mesh node: reservations for this gateway's own tokens answered with its access control
   * (receipts of the nodes that served them checked like forwarded work's), and, serving a trusted gateway's token,
   * this node's receipts to the issuing node under the same credit limit as forwarded work.
   */
  private async attachFederation(credit: CreditReservations): Promise<void> {
    const { federation, access, priceBook, logger } = this.options;
    if (!federation || !access) return;
    const { mesh, ledger, receipts } = this;
    const priceOf = advertisedPriceOf(mesh);
    await federation.attach({
      mesh, signingKey: signingKeyFromRaw(mesh.privateKeyBytes), adminKey: access.adminKey,
      access: { resolve: (credential) => access.authenticator.resolve(credential), quotas: access.quotas },
      receipts: (peerId, requestId, receipt, measured) => receipts.settle(peerId, requestId, receipt, measured),
      priceOf,
      issueReceipt: (subject, requestId, work) =>
        ledger.issue(subject, requestId, work.model, { input: work.input, output: work.output, cached: work.cached }, receiptPrice(advertisedPrice(priceBook, work.model))),
      admitCredit: (peer, estimateMicros) => credit.admit(peer, estimateMicros),
    });
  }

  /** Stops forwarding, sends the acknowledgements still batched, stops reconciliation and the libp2p node. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.options.federation?.close();
    clearInterval(this.advertiseTimer);
    // Receipts still being checked end in an acknowledgement or a dispute: let them, then send the last batch.
    await this.receipts.drain();
    // Acknowledged receipts held back for their batched write reach the store before it closes.
    await this.ledger.flushDeferred().catch((err: Error) => this.options.logger.warn({ err: err.message }, 'mesh: could not write the last acknowledged receipts'));
    await this.acks.close();
    await this.reconciler.stop();
    await this.mesh.stop().catch((err: Error) => this.options.logger.warn({ err: err.message }, 'mesh: stop failed'));
    // Receipts of the forwards the stop let finish: in the store too (the journal would replay them at the next start).
    await this.ledger.flushDeferred().catch((err: Error) => this.options.logger.warn({ err: err.message }, 'mesh: could not write the last receipts'));
    this.ledger.closeJournal();
  }
}
