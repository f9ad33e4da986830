namespace LoKO.Server.Storage;

/// <summary>The "LoKO:CheckpointStore" setting: where checkpoint blobs are kept (<see cref="ICheckpointStore"/>).</summary>
public enum CheckpointStoreKind
{
    /// <summary>Files in the data directory (<see cref="CheckpointFiles"/>).</summary>
    Files,
    /// <summary>Rows of the metadata store (<see cref="DatabaseCheckpoints"/>), which every node reads.</summary>
    Database,
}
