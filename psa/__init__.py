"""The MSP's PSA (ConnectWise Manage, Autotask, HaloPSA): one connector per PSA behind one
interface, the delivery of what xbr mirrors there, and the pull of what changed there."""
