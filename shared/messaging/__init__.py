"""RabbitMQ: the topology, confirmed publishing, the one consumer wrapper, the outbox, running a worker and
dead letters."""
