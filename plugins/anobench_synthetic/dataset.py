from anobench import Dataset


class SyntheticDataset(Dataset):
    name = "synthetic"
