// placeholder until the gateway lands
