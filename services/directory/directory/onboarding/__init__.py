"""The onboarding of a client's number: the pure state machine (``machine``) and its vocabulary (``steps``).

No I/O here: the directory's handlers load an onboarding, ask the machine what an input does to it and which Meta
call comes next, make that call, and store the result (``directory.onboardings``).
"""
