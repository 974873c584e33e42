print("usage: wsgate --route PATH=HANDLER ...")
