print("worker: placeholder")
