"""Collection: ``tanjian simulate`` (the meters over Modbus TCP), ``tanjian collect`` (poll, journal, fold)
(``tanjian status`` is :mod:`tanjian.commands.status`)."""

from __future__ import annotations

import asyncio

from tanjian import args as A
from tanjian.args import config_from_args, open_store
from tanjian.commands.push import run_with_connectors
from workspace.errors import TanjianError


def cmd_simulate(args) -> int:
    from tanjian.simulator import PlantSimulator
    from workspace.clock import Clock

    cfg = config_from_args(args)
    clock = Clock.parse(args.clock)

    async def main():
        async with PlantSimulator(cfg.site, clock, cfg.simulation.seed, args.port_offset) as sim:
            print(f"simulating the Modbus TCP meters of {cfg.site.plant.name}: "
                  + ", ".join(f"{g.id} on {g.host}:{g.port + args.port_offset}" for g in sim.tcp_gateways)
                  + f" (clock {clock.spec()}); Ctrl-C stops", flush=True)
            await asyncio.Event().wait()

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
    return 0


def cmd_collect(args) -> int:
    from collectors.service import CollectionService
    from workspace.clock import Clock
    from workspace.journal import Journal
    from workspace.store import Store

    cfg = config_from_args(args)
    clock = Clock.parse(args.clock)
    journal = Journal(cfg.paths.journal, writer=True)
    store = Store.open(cfg.paths.store, cfg.site, create=True)
    svc = None
    from collectors.mqtt.signed import device_registry_for  # signed MQTT payloads: the chain's DeviceRegistry

    registry = device_registry_for(cfg)

    async def main():
        nonlocal svc
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        import signal

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        # pymodbus clients belong to the running loop: create the service inside it
        svc = CollectionService(cfg.site, journal, store, clock, fold_interval_s=cfg.collection.fold_interval_s,
                                backoff_initial_s=cfg.collection.backoff_initial_s,
                                backoff_max_s=cfg.collection.backoff_max_s,
                                compact_interval_s=cfg.collection.compact_interval_h * 3600,
                                compact_keep_days=cfg.collection.compact_keep_days,
                                clock_tolerance_s=cfg.collection.clock_tolerance_s, port_offset=args.port_offset,
                                period_s=args.period, health_path=cfg.paths.run / "health.json",
                                inbox=cfg.paths.inbox, device_registry=registry)
        alarms = None
        if not args.no_alarms:  # the alarm loop beside the collector: each minute, rules against the store
            from tanjian.alarm_loop import AlarmLoop

            alarms = asyncio.create_task(AlarmLoop(cfg, clock, port_offset=args.port_offset).run(stop))
        await run_with_connectors(svc, cfg, stop)  # with the connector endpoint when push: is configured
        if alarms is not None:
            stop.set()
            await alarms

    print(f"collecting into {cfg.paths.data_dir} (journal {len(journal)} batches, store folded up to batch "
          f"{store.last_folded_seq}); Ctrl-C stops", flush=True)
    asyncio.run(main())
    journal.close()
    print(f"stopped: {svc.acknowledged} readings acknowledged in {svc.cycles} cycles")
    return 0


def add_commands(sub) -> None:
    """Add ``simulate``, ``collect`` and ``simulate-mqtt``."""
    x = sub.add_parser("simulate")
    x.add_argument("--clock", default=None, type=A.clock, help="'wall' (default) or ORIGIN@WALLxSPEED, e.g. a faster clock")
    x.add_argument("--port-offset", type=A.port_offset, default=0)
    x.set_defaults(func=cmd_simulate)

    x = sub.add_parser("collect")
    x.add_argument("--clock", default=None, type=A.clock, help="as for simulate; must match the meters' clock in a simulation")
    x.add_argument("--port-offset", type=A.port_offset, default=0)
    x.add_argument("--period", type=A.positive, default=None, help="poll period [s of the clock] (default: meters')")
    x.add_argument("--no-alarms", action="store_true", help="do not run the alarm loop (each minute: rules of "
                                                            "alarms.yaml against the store; `tanjian alarms`)")
    x.set_defaults(func=cmd_collect)


    x = sub.add_parser("simulate-mqtt", description="Publish the load model's readings of one mqtt gateway's "
                       "meters to a broker at QoS 1, as each meter's mapping expects.")
    x.add_argument("--gateway", required=True, help="id of the mqtt gateway whose meters are published")
    x.add_argument("--host", default=None, help="broker host (default: the gateway's)")
    x.add_argument("--port", type=A.port, default=None, help="broker port (default: the gateway's)")
    x.add_argument("--username", help="publisher's user name")
    x.add_argument("--password-file", type=A.existing_file, help="file holding the publisher's password")
    x.add_argument("--ca", help="CA certificate of the broker (PEM); enables TLS")
    x.add_argument("--cert", help="publisher's client certificate (PEM)")
    x.add_argument("--key", help="publisher's client key (PEM)")
    x.add_argument("--period", type=A.positive, default=60.0, help="seconds between readings [s] (default 60)")
    x.add_argument("--count", type=A.count, default=0, help="stop after this many rounds (default: never)")
    x.set_defaults(func=cmd_simulate_mqtt)


def cmd_simulate_mqtt(args) -> int:
    """Publish one mqtt gateway's clamp-meter readings from the load model every period, live (QoS 1)."""
    import datetime as dt
    import time

    from tanjian.simulator.model import LoadModel
    from tanjian.simulator.mqtt import ClampPublisher
    from workspace.batch import format_time

    cfg = config_from_args(args)
    gw = next((g for g in cfg.site.gateways if g.id == args.gateway and g.protocol == "mqtt"), None)
    if gw is None:
        raise TanjianError(f"{cfg.source or 'the configuration'}: no mqtt gateway {args.gateway!r} (gateways: "
                           f"{', '.join(g.id for g in cfg.site.gateways if g.protocol == 'mqtt') or 'none'})")
    password = None
    if args.password_file:
        password = args.password_file.read_text(encoding="utf-8").splitlines()[0]
    pub = ClampPublisher(cfg.site, gw.id, LoadModel(cfg.site, cfg.simulation.seed), host=args.host or gw.host,
                         port=args.port or gw.port, client_id=f"sim-{gw.id}", username=args.username,
                         password=password, ca_file=args.ca, cert_file=args.cert, key_file=args.key)
    pub.connect()
    n = 0
    try:
        while not args.count or n < args.count:
            now = dt.datetime.now(dt.timezone.utc)
            for info in pub.publish_at(now):
                info.wait_for_publish(10)
            n += 1
            print(f"{format_time(now)}: published {len(pub.meters)} readings", flush=True)
            if not args.count or n < args.count:
                time.sleep(args.period)
    except KeyboardInterrupt:
        pass
    finally:
        pub.close()
    return 0
