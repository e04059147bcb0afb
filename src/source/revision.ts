/** One commit of the fleet repository, checked out into a directory nothing ever writes to again. */
export type Revision = {
  /** Full 40-hex commit id. */
  sha: string;
  /** What was asked for: the branch, or the pinned tag or commit. */
  ref: string;
  fetchedAt: string;
  subject: string;
  author: string;
  committedAt: string;
  /** The checkout of the whole commit. */
  dir: string;
  /** `dir` + `repository.path`: where playbooks/ and inventories/ are, and where Ansible runs. */
  root: string;
};
