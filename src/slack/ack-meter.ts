import type { App, Receiver, ReceiverEvent } from '@slack/bolt';

/**
 * Times Socket Mode acknowledgements: from the moment the receiver hands an envelope to Bolt to the
 * moment a listener (or the catch-all) acknowledges it, told once per envelope with its body. Over HTTP
 * the verifying receiver does the same from the request's receipt to the answer (receiver.ts onAck).
 * The receiver only calls app.processEvent, so that is the one method intercepted.
 */
export function meterAcks(
  receiver: Receiver,
  onAck: (seconds: number, body: Record<string, unknown>) => void,
): Receiver {
  const init = receiver.init.bind(receiver);
  receiver.init = (app: App) => {
    const metered = Object.create(app, {
      processEvent: {
        value: (event: ReceiverEvent) => app.processEvent(timed(event, onAck)),
      },
    }) as App;
    init(metered);
  };
  return receiver;
}

function timed(
  event: ReceiverEvent,
  onAck: (seconds: number, body: Record<string, unknown>) => void,
): ReceiverEvent {
  const receivedAt = process.hrtime.bigint();
  let told = false;
  const ack: ReceiverEvent['ack'] = async (response) => {
    await event.ack(response);
    if (told) return;
    told = true;
    onAck(Number(process.hrtime.bigint() - receivedAt) / 1e9, event.body);
  };
  return { ...event, ack };
}
