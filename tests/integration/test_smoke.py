from wsredis_middleware import RedisPublisher


def test_broadcast_reaches_a_subscriber(live_server, redis_url):
    server = live_server()
    ws = server.connect("/ws/foo?subscribe-broadcast")
    try:
        assert RedisPublisher(facility="foo", broadcast=True, connection=redis_url).publish_message("hi") == 1
        assert ws.recv() == "hi"
    finally:
        ws.close()
